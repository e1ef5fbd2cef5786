import { type AssignmentDto, type PieceResult, type RegisterResponse, SUPERNODE_ID } from '../protocol/api-schema.ts'
import { createError } from '../errors.ts'
import { decodeError } from '../protocol/error-body.ts'
import type { DownloadRequest, DownloadStats, LocalTask, Peer } from './peer.ts'
import { pieceRange } from '../protocol/piece-layout.ts'
import { codedSizeLimit, fetchPiece } from '../transfer/piece-fetch.ts'
import { PieceWrites } from '../transfer/piece-writes.ts'
import { PullPace } from './pull-pace.ts'

export interface SwarmDownloadContext {
  peer: Peer
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
 * pieces to settle. Returns the whole-content digest the supernode
 * announced, if any.
 */
export async function runSwarmDownload(ctx: SwarmDownloadContext): Promise<string | undefined> {
  const { peer, base, registration, task, stats, request } = ctx
  const { peerId, taskId } = registration
  const timeoutMs = peer.options.pieceTimeoutMs ?? 30_000
  const limiter = peer.limitsOf(taskId).down
  const concurrency = limitedConcurrency(Math.min(peer.options.concurrency ?? 8, bytesInFlightCap(registration.pieceSize)), peer.downloadRate(taskId), registration.pieceSize, timeoutMs)
  const results: PieceResult[] = []
  const running = new Set<Promise<void>>()
  const perPiece = new Map<number, AbortController[]>()
  // Set when the download ends: no more pieces start, and every running one is aborted.
  let stopped = false
  let fatal: unknown
  let announced = registration.digest
  let waker: (() => void) | null = null
  let stored = 0
  const wake = (): void => {
    waker?.()
    waker = null
  }
  const onAbort = (): void => wake()
  request.signal?.addEventListener('abort', onAbort)
  peer.joined(taskId, base, peerId)

  // Receive buffers are reused: a fresh multi-MiB array per piece kept the GC busy (a fifth of a peer's CPU on 1 GiB).
  const transforms = peer.options.plugins.transforms
  const bufferSize = transforms.length ? codedSizeLimit(registration.pieceSize) : registration.pieceSize
  const pool: Uint8Array[] = []
  const allocate = peer.options.allocate ?? ((bytes: number) => new Uint8Array(bytes))
  const createPieceHasher = task.layout.contentLength >= HASH_THREAD_MIN_BYTES ? peer.options.createPieceHasher : undefined
  const writes = new PieceWrites(peer.options.storage, taskId)
  const badCopies = new Map<number, number>()

  const fetchAndStore = async (a: AssignmentDto): Promise<PieceResult> => {
    const done = { piece: a.piece, from: a.from, ok: true, bytes: 0 }
    if (task.have.has(a.piece)) return done
    const buffer = pool.pop() ?? allocate(bufferSize)
    try {
      return await receiveAndStore(a, buffer, done)
    } finally {
      if (pool.length < concurrency) pool.push(buffer)
    }
  }

  /** Fetches into `buffer` and stores; returns only once nothing refers to `buffer` any more. */
  const receiveAndStore = async (a: AssignmentDto, buffer: Uint8Array, done: PieceResult): Promise<PieceResult> => {
    // Aborted when another copy of the piece wins, or (with every other) when the download ends.
    const mine = new AbortController()
    if (stopped) mine.abort()
    perPiece.set(a.piece, [...(perPiece.get(a.piece) ?? []), mine])
    const source = a.address ?? base
    const writer = writes.open(a.piece, pieceRange(task.layout, a.piece).start)
    try {
      const outcome = await fetchPiece({
        base: source,
        taskId,
        piece: a.piece,
        size: a.size,
        digest: a.digest,
        createHash: peer.options.createHash,
        createPieceHasher,
        timeoutMs,
        headers: peer.outgoingHeaders(source),
        transforms,
        buffer,
        signal: mine.signal,
        limiter,
        get: peer.options.pieceGet,
        onBytes: writer.onBytes,
      })
      await writer.settle()
      if (task.have.has(a.piece)) return done
      if (!outcome.ok) {
        // Bad bytes from one source isolate it; the same piece failing verification from source after source
        // is not the sources (a transform that cannot decode here, a corrupt cache): stop instead of asking forever.
        const bad = outcome.error === 'digest' ? (badCopies.get(a.piece) ?? 0) + 1 : 0
        if (bad) badCopies.set(a.piece, bad)
        if (bad >= MAX_BAD_COPIES) {
          fatal ??= createError('E_DIGEST_MISMATCH', `piece ${a.piece} failed verification ${MAX_BAD_COPIES} times (last: ${outcome.message})`)
        }
        return { piece: a.piece, from: a.from, ok: false, error: outcome.error }
      }
      stats.wireBytes += outcome.wireBytes
      // This copy is good: other fetches of the piece stop (one streaming it must stop before a whole copy goes in).
      for (const other of perPiece.get(a.piece) ?? []) if (other !== mine) other.abort()
      // A duplicate that won, or a coded piece: its bytes are in memory, not written yet.
      if (!outcome.handed && !(await writer.writeWhole(outcome.bytes, () => task.have.has(a.piece)))) return done
      if (!task.have.set(a.piece)) return done
      peer.progress.notify(taskId)
      perPiece.delete(a.piece)
      if (a.from === SUPERNODE_ID) {
        stats.bytesFromSupernode += outcome.bytes.byteLength
        stats.piecesFromSupernode++
      } else {
        stats.bytesFromPeers += outcome.bytes.byteLength
        stats.piecesFromPeers++
      }
      if (ctx.hashWhole) await task.digest.advance(task.have, { piece: a.piece, bytes: outcome.bytes }).catch((error) => void (fatal ??= error))
      ctx.progress?.()
      if (++stored % 32 === 0) await peer.persist(taskId, request.url)
      return { piece: a.piece, from: a.from, ok: true, bytes: outcome.bytes.byteLength }
    } finally {
      await writer.close()
    }
  }

  const queued: AssignmentDto[] = []
  const pace = new PullPace(concurrency)
  const pullDue = (): boolean => results.length >= pace.batch() || (results.length > 0 && queued.length === 0 && running.size < concurrency)
  const launch = (assignment: AssignmentDto): void => {
    const started = performance.now()
    const job: Promise<void> = fetchAndStore(assignment)
      .then((result) => {
        if (result.ok && result.bytes) pace.pieceTook(performance.now() - started)
        results.push(result)
      })
      .catch((error) => void (fatal ??= error))
      .finally(() => {
        running.delete(job)
        // A freed slot takes the next assignment at once, without waiting for a pull.
        if (!fatal && !stopped && queued.length) launch(queued.shift()!)
        wake()
      })
    running.add(job)
  }

  try {
    while (!task.have.complete) {
      if (fatal) throw fatal
      if (request.signal?.aborted) throw createError('E_ABORTED', 'download interrupted')
      const wait = running.size === 0
      const asked = performance.now()
      const response = await peer.client.pull(base, taskId, {
        peerId,
        results: results.splice(0),
        want: pace.want(running.size, queued.length),
        wait,
      })
      if (!wait) pace.pullTook(performance.now() - asked)
      if (response.error) throw decodeError(response.error, { from: `supernode ${base}`, fallback: 'E_NO_SUPERNODE' })
      if (response.digest) announced = response.digest
      for (const assignment of response.assignments) {
        if (running.size < concurrency) launch(assignment)
        else queued.push(assignment)
      }
      // The next pull once nothing runs, a batch of results is in, or a result is in and its slot has nothing queued.
      while (running.size > 0 && !fatal && !request.signal?.aborted && !pullDue()) await new Promise<void>((resolve) => (waker = resolve))
    }
    if (fatal) throw fatal
    // Assignments still queued are for pieces held by now: they settle at once and are reported with the rest.
    for (const assignment of queued.splice(0)) launch(assignment)
    // The last piece's result is pushed after its bookkeeping; wait for it so the final report is complete.
    await Promise.allSettled(running)
    const last = await peer.client.pull(base, taskId, { peerId, results: results.splice(0), want: 0, wait: false }).catch(() => null)
    if (last?.digest) announced = last.digest
    return announced
  } finally {
    request.signal?.removeEventListener('abort', onAbort)
    stopped = true
    for (const controllers of perPiece.values()) for (const controller of controllers) controller.abort()
    await Promise.allSettled(running)
  }
}

/** Copies of one piece that may fail verification before the download stops with E_DIGEST_MISMATCH. */
const MAX_BAD_COPIES = 8

/**
 * Smallest content hashed on the runtime's hash thread. Starting the thread
 * costs ~30 ms of CPU and ~10 MiB (Node worker, measured here); sha256 on the
 * event loop costs ~0.7 ms per MiB: below ~45 MiB the thread is not worth it.
 */
const HASH_THREAD_MIN_BYTES = 64 * 1024 * 1024

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
