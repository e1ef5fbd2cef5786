import { open, realpath, stat } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import * as v from 'valibot'
import { definePlugin, type SourceRequest } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { createError } from '../../core/errors.ts'

export const PLUGIN_NAME = 'source-file'

export interface SourceFileOptions {
  /**
   * Only files under this directory may be read; others answer 403.
   * @default undefined (any path the process can read)
   */
  root?: string
  /**
   * Bytes per read from the file.
   * @default 262144
   */
  chunkSize?: number
}

const OPTIONS = v.strictObject({
  root: v.optional(v.string()),
  chunkSize: v.optional(v.pipe(v.number(), v.integer('must be a whole number of bytes'), v.minValue(1, 'must be at least 1')), 256 * 1024),
} satisfies PluginOptionsEntries<SourceFileOptions>)

type ResolvedOptions = v.InferOutput<typeof OPTIONS>

/** `file://` sources: stat, Range, validators from size and mtime, streamed reads. */
export default definePlugin((options: SourceFileOptions = {}) => {
  const checked = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  return {
    name: PLUGIN_NAME,
    source: { protocols: ['file:'], fetch: (request) => fetchFile(request, checked) },
  }
})

async function fetchFile(request: SourceRequest, options: ResolvedOptions): Promise<Response> {
  let path: string
  try {
    path = fileURLToPath(request.url)
  } catch (cause) {
    throw createError('E_BAD_ARGUMENT', `${PLUGIN_NAME}: not a local file URL: ${request.url}`, { cause })
  }
  if (options.root) {
    if (!path.startsWith(options.root.replace(/\/?$/, '/'))) return new Response('outside the allowed root', { status: 403 })
    // A symlink under root may point anywhere: the jail holds for the file it resolves to, and that file is read.
    const real = await realpath(path).catch(() => null)
    const realRoot = await realpath(options.root).catch(() => options.root!)
    if (real && !real.startsWith(realRoot.replace(/\/?$/, '/'))) return new Response('outside the allowed root', { status: 403 })
    if (real) path = real
  }
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null
    throw createError('E_SOURCE_UNREACHABLE', `${PLUGIN_NAME}: cannot stat ${path}: ${error.message}`, { cause: error })
  })
  if (!info?.isFile()) return new Response('not found', { status: 404 })
  const size = info.size
  const etag = `"${size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`
  const lastModified = info.mtime.toUTCString()
  const headers = new Headers({ etag, 'last-modified': lastModified, 'accept-ranges': 'bytes' })
  const { range, validators } = request
  const current = !validators || validators.etag === etag || (!validators.etag && validators.lastModified === lastModified)
  if (validators && !range && current) return new Response(null, { status: 304, headers })
  let start = 0
  let end = size - 1
  let status = 200
  if (range && current) {
    if (range.start >= size) {
      headers.set('content-range', `bytes */${size}`)
      return new Response(null, { status: 416, headers })
    }
    start = range.start
    end = Math.min(range.end ?? size - 1, size - 1)
    status = 206
    headers.set('content-range', `bytes ${start}-${end}/${size}`)
  }
  headers.set('content-length', String(end - start + 1))
  if (request.method === 'HEAD') return new Response(null, { status, headers })
  return new Response(readStream(path, start, end + 1, options.chunkSize, request.signal), { status, headers })
}

function readStream(path: string, from: number, to: number, chunkSize: number, signal?: AbortSignal): ReadableStream<Uint8Array> {
  let position = from
  let handle: Awaited<ReturnType<typeof open>> | undefined
  return new ReadableStream<Uint8Array>({
    async start() {
      handle = await open(path, 'r')
    },
    async pull(controller) {
      if (signal?.aborted) {
        await handle?.close()
        controller.error(signal.reason)
        return
      }
      const length = Math.min(chunkSize, to - position)
      if (length <= 0) {
        await handle?.close()
        controller.close()
        return
      }
      const buffer = new Uint8Array(length)
      const { bytesRead } = await handle!.read(buffer, 0, length, position)
      if (bytesRead === 0) {
        await handle?.close()
        controller.error(createError('E_SOURCE_TRUNCATED', `${PLUGIN_NAME}: ${path} shrank while being read`))
        return
      }
      position += bytesRead
      controller.enqueue(buffer.subarray(0, bytesRead))
    },
    async cancel() {
      await handle?.close()
    },
  })
}
