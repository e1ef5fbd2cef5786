import { createError } from '../errors.ts'
import type { AssignmentDto, PieceResult, RegisterResponse } from '../protocol/api-schema.ts'
import { decodeError } from '../protocol/error-body.ts'
import type { DownloadHost } from './download-host.ts'
import type { DownloadRequest, DownloadStats } from './download-types.ts'
import type { LocalTask } from './peer-tasks.ts'
import { PieceReceiver } from './piece-receiver.ts'
import { PullPace } from './pull-pace.ts'

export interface SwarmDownloadContext {
  host: DownloadHost
  /** The supernode this registration belongs to. */
  base: string
  registration: RegisterResponse
  task: LocalTask
  stats: DownloadStats
  request: DownloadRequest
  /**
   * Hash the whole content as pieces arrive. Needed only against a digest the
   * user gave: pieces are already verified against the supernode's digests.
   */
  hashWhole: boolean
  /** Called after each stored piece (throttled by the caller). */
  progress?: () => void
}

/**
 * The pull loop: report the last results and ask for the pieces that fill
 * the free slots (plus `PullPace`'s lookahead) in one request; wait on the
 * supernode (long-poll) only when nothing is running, otherwise wait for
 * pieces to settle. Each assignment goes to the `PieceReceiver`. Returns the
 * whole-content digest the supernode announced, if any.
 */
export async function runSwarmDownload(ctx: SwarmDownloadContext): Promise<string | undefined> {
  const { host, base, registration, request } = ctx
  const { peerId, taskId } = registration
  const timeoutMs = host.options.pieceTimeoutMs
  const concurrency = limitedConcurrency(
    Math.min(host.options.concurrency, bytesInFlightCap(registration.pieceSize)),
    host.downloadRate(taskId),
    registration.pieceSize,
    timeoutMs,
  )
  const receiver = new PieceReceiver({ ...ctx, url: request.url, pieceSize: registration.pieceSize, concurrency })
  const results: PieceResult[] = []
  const running = new Set<Promise<void>>()
  const queued: AssignmentDto[] = []
  const pace = new PullPace(concurrency)
  let stopped = false
  let announced = registration.digest
  let waker: (() => void) | null = null
  const wake = (): void => {
    waker?.()
    waker = null
  }
  const failed = (): unknown => receiver.fatal
  request.signal?.addEventListener('abort', wake)
  host.joined(taskId, base, peerId)

  const pullDue = (): boolean => results.length >= pace.batch() || (results.length > 0 && queued.length === 0 && running.size < concurrency)
  const launch = (assignment: AssignmentDto): void => {
    const started = performance.now()
    const job: Promise<void> = receiver
      .receive(assignment)
      .then((result) => {
        if (result.ok && result.bytes) pace.pieceTook(performance.now() - started)
        results.push(result)
      })
      .catch((error) => void (receiver.fatal ??= error))
      .finally(() => {
        running.delete(job)
        // A freed slot takes the next assignment at once, without waiting for a pull.
        if (!failed() && !stopped && queued.length) launch(queued.shift()!)
        wake()
      })
    running.add(job)
  }

  try {
    while (!ctx.task.have.complete) {
      if (failed()) throw failed()
      if (request.signal?.aborted) throw createError('E_ABORTED', 'download interrupted')
      const wait = running.size === 0
      const asked = performance.now()
      const response = await host.client.pull(base, taskId, { peerId, results: results.splice(0), want: pace.want(running.size, queued.length), wait })
      if (!wait) pace.pullTook(performance.now() - asked)
      if (response.error) throw decodeError(response.error, { from: `supernode ${base}`, fallback: 'E_NO_SUPERNODE' })
      if (response.digest) announced = response.digest
      for (const assignment of response.assignments) {
        if (running.size < concurrency) launch(assignment)
        else queued.push(assignment)
      }
      // The next pull once nothing runs, a batch of results is in, or a result is in and its slot has nothing queued.
      while (running.size > 0 && !failed() && !request.signal?.aborted && !pullDue()) await new Promise<void>((resolve) => (waker = resolve))
    }
    if (failed()) throw failed()
    // Assignments still queued are for pieces held by now: they settle at once and are reported with the rest.
    for (const assignment of queued.splice(0)) launch(assignment)
    // The last piece's result is pushed after its bookkeeping; wait for it so the final report is complete.
    await Promise.allSettled(running)
    const last = await host.client.pull(base, taskId, { peerId, results: results.splice(0), want: 0, wait: false }).catch(() => null)
    if (last?.digest) announced = last.digest
    return announced
  } finally {
    request.signal?.removeEventListener('abort', wake)
    stopped = true
    receiver.stop()
    await Promise.allSettled(running)
  }
}

/**
 * Pieces held in memory at once are bounded by bytes, not count: large pieces,
 * fewer in flight (peer RSS). Measured on a 1 GiB get (4 MiB pieces, direct
 * writes, hash thread): 16 MiB 1.74 s median of 5, 24 MiB 1.61 s, 32 MiB 1.50 s,
 * peak RSS 125 and 143 MiB for 16 and 32.
 */
const MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024

export function bytesInFlightCap(pieceSize: number): number {
  return Math.max(2, Math.floor(MAX_BYTES_IN_FLIGHT / pieceSize))
}

/**
 * Under a rate limit, fewer pieces in flight: each should still arrive well
 * within the supernode's assignment timeout (a third of it), or the supernode
 * would reclaim pieces that are merely paced.
 */
export function limitedConcurrency(concurrency: number, rate: number, pieceSize: number, timeoutMs: number): number {
  if (!rate) return concurrency
  return Math.max(1, Math.min(concurrency, Math.floor((rate * timeoutMs) / 3000 / pieceSize)))
}
