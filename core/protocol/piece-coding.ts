import { LRUCache } from 'lru-cache'
import type { PieceContext, PieceTransform } from '../contract/plugin.ts'
import { createError } from '../errors.ts'

/** Sent by a receiver: the codings it can decode, comma-separated. */
export const ACCEPT_CODING_HEADER = 'x-dragonfly-accept-coding'
/** Sent by a piece server: the chain applied, in encode order (`gzip+aes256gcm`), or `identity`. */
export const CODING_HEADER = 'x-dragonfly-coding'

const TOKEN_RE = /^[a-z0-9][a-z0-9._-]{0,31}$/

/** Every coding token a transform can encode and decode, preferred first. */
export function codingsOf(transform: PieceTransform): string[] {
  return [transform.coding, ...(transform.codings ?? [])]
}

export function isCodingToken(value: string): boolean {
  return TOKEN_RE.test(value) && value !== 'identity'
}

/** The receiver's `x-dragonfly-accept-coding` value for its transforms. */
export function acceptCodingHeader(transforms: readonly PieceTransform[]): string {
  return transforms.flatMap(codingsOf).join(', ')
}

export function parseAcceptCoding(value: string | null | undefined): Set<string> {
  return new Set(
    (value ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean),
  )
}

export interface EncodedPiece {
  body: Uint8Array
  /** The chain applied, `identity` when none. */
  coding: string
}

export interface PieceEncoderOptions {
  /** Bytes of compress-stage output kept in memory (LRU). @default 64 MiB */
  cacheBytes?: number
}

/**
 * Encodes pieces for one receiver's accepted codings. Compress-stage transforms
 * are deterministic, so their output (or their refusal) is cached per piece,
 * keyed by its digest when known: a piece is compressed once, not once per
 * transfer. Encryption runs per transfer (fresh IV) and is never cached.
 */
export function createPieceEncoder(transforms: readonly PieceTransform[], options: PieceEncoderOptions = {}) {
  // A refusal (`out: null`: compression did not pay) is remembered too, at a nominal byte.
  const cache = new LRUCache<string, { out: Uint8Array | null }>({
    maxSize: Math.max(1, options.cacheBytes ?? 64 * 1024 * 1024),
    sizeCalculation: (entry) => Math.max(1, entry.out?.byteLength ?? 0),
  })

  return {
    get cachedBytes(): number {
      return cache.calculatedSize
    },
    /** Applies every transform the receiver accepts, in stage order; refuses when a required one is not accepted. */
    async encode(data: Uint8Array, context: PieceContext & { version?: string }, accept: Set<string>): Promise<EncodedPiece> {
      let body = data
      const chain: string[] = []
      for (const transform of transforms) {
        const coding = codingsOf(transform).find((c) => accept.has(c))
        if (!coding) {
          if (transform.required)
            throw createError('E_NOT_ACCEPTABLE', `this piece server requires the ${transform.coding} coding; add the plugin that provides it`, {
              details: { coding: transform.coding, stage: transform.stage },
            })
          continue
        }
        const step = { taskId: context.taskId, piece: context.piece, coding }
        let out: Uint8Array | null
        if (transform.stage === 'compress') {
          const key = `${context.taskId}/${context.piece}/${context.version ?? ''}/${[...chain, coding].join('+')}`
          const cached = cache.get(key)
          if (cached) out = cached.out
          else {
            out = await transform.encode(body, step)
            cache.set(key, { out })
          }
        } else {
          out = await transform.encode(body, step)
        }
        if (out) {
          body = out
          chain.push(coding)
        }
      }
      return { body, coding: chain.length ? chain.join('+') : 'identity' }
    },
  }
}

export type PieceEncoder = ReturnType<typeof createPieceEncoder>

/**
 * Undoes a coding chain in reverse order. Throws (E_DIGEST_MISMATCH) when the
 * chain names a coding this receiver did not offer or a decode fails
 * (tampered ciphertext, corrupt stream), so the source is treated as serving bad bytes.
 */
export async function decodePiece(transforms: readonly PieceTransform[], body: Uint8Array, coding: string | null, context: PieceContext): Promise<Uint8Array> {
  if (!coding || coding === 'identity') return body
  const byToken = new Map<string, PieceTransform>()
  for (const t of transforms) for (const c of codingsOf(t)) byToken.set(c, t)
  let data = body
  for (const token of coding.split('+').reverse()) {
    const transform = byToken.get(token)
    if (!transform) throw createError('E_DIGEST_MISMATCH', `piece ${context.piece} came with coding ${JSON.stringify(coding)}, which was not offered`)
    try {
      data = await transform.decode(data, { ...context, coding: token })
    } catch (cause) {
      throw createError('E_DIGEST_MISMATCH', `piece ${context.piece}: ${token} decode failed: ${(cause as Error)?.message ?? cause}`, { cause })
    }
  }
  return data
}
