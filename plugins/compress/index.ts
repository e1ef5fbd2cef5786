import * as v from 'valibot'
import { definePlugin, type PieceContext } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { createError } from '../../core/errors.ts'

export const PLUGIN_NAME = 'compress'

/**
 * `CompressionStream` formats. gzip, deflate and deflate-raw exist everywhere;
 * brotli on Bun 1.4 and Deno 2.9 (not Node 20), zstd on Bun only
 * (`bench/compression-formats.mjs` prints the list per runtime).
 */
export type CompressCodec = 'gzip' | 'deflate' | 'deflate-raw' | 'brotli' | 'zstd'

export interface CompressOptions {
  /**
   * Keep the compressed form only when it is at least this fraction smaller than the piece.
   * @default 0.1
   */
  minSaving?: number
  /**
   * Codecs offered, preferred first; a receiver gets the first one it accepts.
   * Codecs this runtime lacks are left out, so one config serves a mixed
   * Node/Bun/Deno cluster; at least one must be available.
   * @default ['gzip', 'deflate']
   */
  codecs?: CompressCodec[]
  /**
   * Bytes compressed first as a probe; a piece whose probe does not save `minSaving` is sent as is.
   * @default 16384
   */
  probeBytes?: number
}

const OPTIONS = v.strictObject({
  minSaving: v.optional(v.pipe(v.number(), v.minValue(0, 'must be in [0, 1)'), v.ltValue(1, 'must be in [0, 1)')), 0.1),
  codecs: v.optional(v.array(v.picklist(['gzip', 'deflate', 'deflate-raw', 'brotli', 'zstd'])), () => ['gzip', 'deflate'] as CompressCodec[]),
  probeBytes: v.optional(v.pipe(v.number(), v.integer('must be a whole number of bytes'), v.minValue(1, 'must be at least 1')), 16 * 1024),
} satisfies PluginOptionsEntries<CompressOptions>)

/**
 * Dynamic per-piece compression: text and other compressible pieces travel
 * compressed, already-compressed or random ones travel raw, without paying for
 * a full compression of each. The piece server compresses a piece once and
 * keeps the result (core/protocol/piece-coding.ts), so this runs once per piece.
 */
export default definePlugin((options: CompressOptions = {}) => {
  const { minSaving, codecs: wanted, probeBytes } = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  const codecs = wanted.filter(available)
  if (codecs.length === 0) {
    throw createError('E_PLUGIN', `${PLUGIN_NAME}: none of the codecs ${JSON.stringify(wanted)} is available on this runtime (CompressionStream)`)
  }
  const pays = (before: number, after: number): boolean => after <= before * (1 - minSaving) && after < before

  return {
    name: PLUGIN_NAME,
    transform: {
      stage: 'compress',
      coding: codecs[0]!,
      codings: codecs.slice(1),
      async encode(data, context) {
        const codec = codecOf(context)
        if (data.byteLength > probeBytes * 2) {
          const probe = data.subarray(0, probeBytes)
          if (!pays(probe.byteLength, (await run(probe, new CompressionStream(codec))).byteLength)) return null
        }
        const packed = await run(data, new CompressionStream(codec))
        return pays(data.byteLength, packed.byteLength) ? packed : null
      },
      decode: (data, context) => run(data, new DecompressionStream(codecOf(context)), context.size),
    },
  }
})

function available(codec: string): boolean {
  try {
    new CompressionStream(codec as CompressionFormat)
    new DecompressionStream(codec as CompressionFormat)
    return true
  } catch {
    return false
  }
}

function codecOf(context: PieceContext): CompressionFormat {
  return (context.coding ?? 'gzip') as CompressionFormat
}

/** Pipes `data` through a (de)compressor; stops past `limit` output bytes so a small bomb cannot expand unbounded. */
async function run(data: Uint8Array, stream: CompressionStream | DecompressionStream, limit = Infinity): Promise<Uint8Array> {
  const writer = stream.writable.getWriter()
  const written = writer.write(data as Uint8Array<ArrayBuffer>).then(() => writer.close())
  written.catch(() => {})
  const chunks: Uint8Array[] = []
  let total = 0
  const reader = stream.readable.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => {})
      throw createError('E_DIGEST_MISMATCH', `${PLUGIN_NAME}: decoded piece exceeds ${limit} bytes`)
    }
    chunks.push(value)
  }
  await written
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}
