import type { CreateHash } from '../../contract/hash.ts'
import type { PluginSet } from '../../contract/plugin.ts'
import type { StorageDriver } from '../../contract/storage.ts'
import { createError } from '../../errors.ts'
import { hashHex } from '../../protocol/digest.ts'
import { pieceRange } from '../../protocol/piece-layout.ts'
import { sourceStatusError } from '../../source/fetch-source.ts'
import type { SourceGuard } from '../../source/source-guard.ts'
import { fetchSourceWithRetry, isRetryable, type RetryPolicy } from '../../source/source-retry.ts'
import { cutIntoPieces, rangeContinues } from '../../transfer/piece-cutter.ts'
import type { RateLimiter } from '../../transfer/rate-limit.ts'
import type { CdnMeta, CdnTask } from './cdn-task.ts'

export interface IngestOptions {
  task: CdnTask
  meta: CdnMeta
  /** The source response the task was started from (200, or a 206 resuming `meta`). */
  response: Response
  request: { url: string; headers?: Record<string, string>; digest?: string }
  plugins: PluginSet
  storage: StorageDriver
  createHash: CreateHash
  signal: AbortSignal
  retry: RetryPolicy
  /** Pieces written ahead of the source reader. @default 3 */
  writeAhead?: number
  /** Bytes read from the source, as they arrive (metrics). */
  onSourceBytes?: (bytes: number) => void
  /** Checks where the source redirects to (SSRF guard). */
  guard?: SourceGuard
  /** Paces source reads (the supernode's `--total-limit`). */
  limiter?: RateLimiter
  /** Piece the response body starts at. @default the pieces in `meta` (a Range resume) */
  firstPiece?: number
}

/**
 * Reads the source body piece by piece: hash, store, seed. A body cut short
 * (reset, early end) is resumed from the last whole piece with a Range
 * request guarded by If-Range; a source that ignores Range is read again from
 * the start, skipping what is stored. The whole-content digest is checked
 * against the task's digest before the cache is marked complete.
 */
export async function ingest(options: IngestOptions): Promise<void> {
  const { task, meta, storage, request } = options
  const { layout } = task
  const fileHash = options.createHash()
  let delivered = meta.digests.length
  for (let n = 0; n < delivered; n++) {
    const r = pieceRange(layout, n)
    fileHash.update(await storage.readAt(task.taskId, r.start, r.length))
  }
  await storage.setMeta(task.taskId, meta)
  const writeAhead = options.writeAhead ?? 3
  const saveProgress = (): Promise<void> => storage.setMeta(task.taskId, { ...meta, digests: meta.digests.slice(0, delivered), updatedAt: Date.now() })

  let response = options.response
  let firstPiece = options.firstPiece ?? delivered
  for (let attempt = 0; ; attempt++) {
    const pending: Promise<void>[] = []
    let stored = delivered
    try {
      await cutIntoPieces(response.body, {
        layout,
        firstPiece,
        url: request.url,
        limiter: options.limiter,
        onBytes: (n) => {
          task.bytesFromSource += n
          options.onSourceBytes?.(n)
        },
        onPiece: async (n, bytes) => {
          if (n < delivered) return
          fileHash.update(bytes)
          delivered = n + 1
          pending.push(
            (async () => {
              const digest = hashHex(options.createHash, bytes)
              await storage.writeAt(task.taskId, pieceRange(layout, n).start, bytes)
              meta.digests[n] = digest
              task.swarm.seedPiece(n, digest)
              stored++
            })(),
          )
          if (pending.length >= writeAhead) await pending.shift()
          if (n % 16 === 15) await saveProgress()
        },
      })
      await Promise.all(pending)
      break
    } catch (error) {
      await Promise.allSettled(pending)
      if (stored !== delivered) throw createError('E_IO', `could not store every piece of ${request.url}`, { cause: error })
      await saveProgress().catch(() => {})
      if (!isRetryable(error) || attempt >= options.retry.retries || options.signal.aborted) throw error
      ;({ response, firstPiece } = await reopen(options, delivered))
    }
  }

  const digest = `sha256:${fileHash.digest()}`
  if (request.digest && request.digest.toLowerCase() !== digest) {
    await storage.remove(task.taskId)
    throw createError('E_DIGEST_MISMATCH', `source content of ${request.url} is ${digest}, expected ${request.digest}`)
  }
  Object.assign(meta, { complete: true, digest, updatedAt: Date.now() })
  await storage.setMeta(task.taskId, meta)
  task.digest = digest
  task.complete = true
  task.swarm.changed()
}

/** Asks the source for the rest after `delivered` whole pieces. */
async function reopen(options: IngestOptions, delivered: number): Promise<{ response: Response; firstPiece: number }> {
  const { task, meta, request } = options
  const offset = delivered * task.layout.pieceSize
  const validators = meta.etag || meta.lastModified ? { etag: meta.etag, lastModified: meta.lastModified } : undefined
  const response = await fetchSourceWithRetry(
    options.plugins,
    { url: request.url, headers: request.headers ?? {}, range: { start: offset }, validators, signal: options.signal },
    options.retry,
    options.guard,
  )
  if (response.status === 206 && rangeContinues(response, offset, task.layout.contentLength) !== null) return { response, firstPiece: delivered }
  const same =
    response.status === 200 &&
    (!meta.etag || response.headers.get('etag') === meta.etag) &&
    (!meta.lastModified || response.headers.get('last-modified') === meta.lastModified)
  if (same) return { response, firstPiece: 0 }
  await response.body?.cancel().catch(() => {})
  if (response.status === 200) throw createError('E_SOURCE_STATUS', `source content of ${request.url} changed during the download`)
  throw sourceStatusError(request.url, response.status)
}
