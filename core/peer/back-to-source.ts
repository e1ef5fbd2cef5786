import { ensureSpace } from '../cache/disk-space.ts'
import { createError } from '../errors.ts'
import { hashHex } from '../protocol/digest.ts'
import { createPieceLayout, pieceRange } from '../protocol/piece-layout.ts'
import { fetchSource, sourceStatusError } from '../source/fetch-source.ts'
import { hasCredentials } from '../source/source-access.ts'
import { contentLengthOf, cutIntoPieces, rangeContinues } from '../transfer/piece-cutter.ts'
import type { DownloadHost } from './download-host.ts'
import type { DownloadRequest, DownloadStats } from './download-types.ts'
import type { LocalTask } from './peer-tasks.ts'
import { bytesMissing } from './peer-tasks.ts'

export interface BackToSourceContext {
  host: DownloadHost
  taskId: string
  request: DownloadRequest
  /** What a swarm download already got, if anything. */
  task?: LocalTask
  stats: DownloadStats
  /** Called after each stored piece (throttled by the caller). */
  progress?: () => void
}

/**
 * No supernode could serve: fetch from the source with the user's headers.
 * Pieces already verified from the swarm are kept; when they form a prefix
 * the source is asked only for the rest (Range).
 */
export async function backToSource(ctx: BackToSourceContext): Promise<LocalTask> {
  const { host, taskId, request, stats } = ctx
  const prefix = ctx.task ? ctx.task.have.prefixLength() : 0
  const offset = ctx.task && prefix > 0 ? pieceRange(ctx.task.layout, prefix - 1).end : 0
  const response = await fetchSource(
    host.options.plugins,
    {
      url: request.url,
      headers: request.headers ?? {},
      ...(offset > 0 ? { range: { start: offset } } : {}),
      signal: request.signal,
    },
    host.options.sourceGuard,
  )
  const resumedTotal = offset > 0 && response.status === 206 ? rangeContinues(response, offset, ctx.task!.layout.contentLength) : null
  if (response.status !== 200 && resumedTotal === null) {
    await response.body?.cancel().catch(() => {})
    throw sourceStatusError(request.url, response.status)
  }
  const length = resumedTotal ?? contentLengthOf(response)
  if (length === null) {
    await response.body?.cancel().catch(() => {})
    throw createError('E_SOURCE_STATUS', `source gave no Content-Length for ${request.url}; chunked sources are not supported yet`)
  }
  const keep = resumedTotal !== null ? ctx.task : ctx.task?.layout.contentLength === length ? ctx.task : undefined
  let task: LocalTask
  try {
    // Fetched with credentials and vouched for by no supernode: nobody else is known to be allowed its bytes.
    const access = hasCredentials(request.headers) ? { closed: true } : keep?.gate ? { gate: keep.gate, capability: keep.capability } : {}
    task = host.adopt(taskId, keep?.layout ?? createPieceLayout(length), keep, access)
    await ensureSpace(host.options.storage, bytesMissing(task), request.url)
  } catch (error) {
    await response.body?.cancel().catch(() => {})
    throw error
  }
  await cutIntoPieces(response.body, {
    layout: task.layout,
    firstPiece: resumedTotal !== null ? prefix : 0,
    url: request.url,
    limiter: host.limitsOf(taskId).down,
    onBytes: (n) => {
      stats.bytesFromSource += n
      stats.wireBytes += n
    },
    onPiece: async (n, bytes) => {
      if (task.have.has(n)) return
      await host.options.storage.writeAt(taskId, pieceRange(task.layout, n).start, bytes)
      task.have.set(n)
      task.pieceDigests[n] = hashHex(host.options.createHash, bytes)
      host.progress.notify(taskId)
      await task.digest.advance(task.have, { piece: n, bytes })
      ctx.progress?.()
    },
  })
  return task
}
