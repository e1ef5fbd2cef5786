import { createError } from '../errors.ts'
import { type AssignmentDto, type PieceResult, SUPERNODE_ID } from '../protocol/api-schema.ts'
import { pieceRange } from '../protocol/piece-layout.ts'
import { capabilityHeader } from '../transfer/capability.ts'
import { codedSizeLimit, fetchPiece } from '../transfer/piece-fetch.ts'
import { PieceWrites } from '../transfer/piece-writes.ts'
import type { DownloadHost } from './download-host.ts'
import type { DownloadStats } from './download-types.ts'
import type { LocalTask } from './peer-tasks.ts'

export interface PieceReceiverOptions {
  host: DownloadHost
  /** The supernode the assignments come from (and the source of pieces assigned without an address). */
  base: string
  task: LocalTask
  stats: DownloadStats
  /** The download's URL (the resume record names it). */
  url: string
  pieceSize: number
  /** Receive buffers kept for reuse. */
  concurrency: number
  /** Hash the whole content as pieces arrive (only against a digest the user gave). */
  hashWhole: boolean
  /** Called after each stored piece (throttled by the caller). */
  progress?: () => void
}

/**
 * The per-piece half of a swarm download: fetches one assigned piece, verifies
 * it, stores it and accounts for it, and answers the result the supernode is
 * told. Several copies of one piece may run (end game): the first good one
 * wins and stops the others.
 */
export class PieceReceiver {
  /** Set by a failure that ends the download (a piece no source can serve intact, a broken whole-content hash). */
  fatal: unknown
  private stopped = false
  private stored = 0
  private readonly pool: Uint8Array[] = []
  private readonly perPiece = new Map<number, AbortController[]>()
  private readonly badCopies = new Map<number, number>()
  private refusals = 0
  private readonly writes: PieceWrites
  private readonly bufferSize: number
  private readonly timeoutMs: number

  constructor(private readonly o: PieceReceiverOptions) {
    const { options } = o.host
    this.writes = new PieceWrites(options.storage, o.task.taskId)
    // Receive buffers are reused: a fresh multi-MiB array per piece kept the GC busy (a fifth of a peer's CPU on 1 GiB).
    this.bufferSize = options.plugins.transforms.length ? codedSizeLimit(o.pieceSize) : o.pieceSize
    this.timeoutMs = options.pieceTimeoutMs
  }

  /** Fetches and stores one assigned piece; never rejects for a bad source (the result says so). */
  async receive(a: AssignmentDto, onHave?: (encoded: string) => void): Promise<PieceResult> {
    const done = { piece: a.piece, from: a.from, ok: true, bytes: 0 }
    if (this.o.task.have.has(a.piece)) return done
    const allocate = this.o.host.options.allocate ?? ((bytes: number) => new Uint8Array(bytes))
    const buffer = this.pool.pop() ?? allocate(this.bufferSize)
    try {
      return await this.receiveInto(a, buffer, done, onHave)
    } finally {
      if (this.pool.length < this.o.concurrency) this.pool.push(buffer)
    }
  }

  /** Stops every running fetch; none starts afterwards. */
  stop(): void {
    this.stopped = true
    for (const controllers of this.perPiece.values()) for (const controller of controllers) controller.abort()
  }

  /** Fetches into `buffer` and stores; returns only once nothing refers to `buffer` any more. */
  private async receiveInto(a: AssignmentDto, buffer: Uint8Array, done: PieceResult, onHave?: (encoded: string) => void): Promise<PieceResult> {
    const { host, task, stats } = this.o
    const { options } = host
    // Aborted when another copy of the piece wins, or (with every other) when the download ends.
    const mine = new AbortController()
    if (this.stopped) mine.abort()
    this.perPiece.set(a.piece, [...(this.perPiece.get(a.piece) ?? []), mine])
    const source = a.address ?? this.o.base
    const writer = this.writes.open(a.piece, pieceRange(task.layout, a.piece).start)
    try {
      const outcome = await fetchPiece({
        base: source,
        taskId: task.taskId,
        piece: a.piece,
        size: a.size,
        digest: a.digest,
        createHash: options.createHash,
        createPieceHasher: task.layout.contentLength >= HASH_THREAD_MIN_BYTES ? options.createPieceHasher : undefined,
        timeoutMs: this.timeoutMs,
        headers: { ...host.outgoingHeaders(source), ...capabilityHeader(task.capability) },
        transforms: options.plugins.transforms,
        buffer,
        signal: mine.signal,
        limiter: host.limitsOf(task.taskId).down,
        get: options.pieceGet,
        onBytes: writer.onBytes,
        onHave,
      })
      await writer.settle()
      if (task.have.has(a.piece)) return done
      // Stopped because another copy won (it aborts the others before it marks the piece held) or the download
      // ended: the source did nothing wrong, and must not be reported or dropped for it.
      if (!outcome.ok && mine.signal.aborted) return done
      if (!outcome.ok) {
        // Bad bytes from one source isolate it; the same piece failing verification from source after source
        // is not the sources (a transform that cannot decode here, a corrupt cache): stop instead of asking forever.
        if (outcome.missingCoding) {
          const { coding, stage } = outcome.missingCoding
          this.fatal ??= createError(
            'E_PLUGIN',
            `the swarm's pieces need the ${coding} coding and this peer has no plugin for it (the piece server's ${stage ?? 'transform'} plugin provides it): add the same plugin, with the same options, to this peer's config`,
            { details: { coding, ...(stage ? { plugin: stage } : {}) } },
          )
        }
        const bad = outcome.error === 'digest' ? (this.badCopies.get(a.piece) ?? 0) + 1 : 0
        if (bad) this.badCopies.set(a.piece, bad)
        if (bad >= MAX_BAD_COPIES) {
          this.fatal ??= createError('E_DIGEST_MISMATCH', `piece ${a.piece} failed verification ${MAX_BAD_COPIES} times (last: ${outcome.message})`)
        }
        // 406: the piece servers encode with a transform (encrypt, ...) this peer lacks; no retry can fix that.
        if (outcome.status === 406 && ++this.refusals >= MAX_BAD_COPIES) {
          this.fatal ??= createError(
            'E_NOT_ACCEPTABLE',
            `piece servers refused ${this.refusals} pieces with 406: they require a coding this peer has no plugin for (encrypt, compress: configure the same plugins as the supernode)`,
          )
        }
        return { piece: a.piece, from: a.from, ok: false, error: outcome.error }
      }
      stats.wireBytes += outcome.wireBytes
      // This copy is good: other fetches of the piece stop (one streaming it must stop before a whole copy goes in).
      for (const other of this.perPiece.get(a.piece) ?? []) if (other !== mine) other.abort()
      // A duplicate that won, or a coded piece: its bytes are in memory, not written yet.
      if (!outcome.handed && !(await writer.writeWhole(outcome.bytes, () => task.have.has(a.piece)))) return done
      if (!task.have.set(a.piece)) return done
      task.pieceDigests[a.piece] = a.digest
      host.progress.notify(task.taskId)
      this.perPiece.delete(a.piece)
      if (a.from === SUPERNODE_ID) {
        stats.bytesFromSupernode += outcome.bytes.byteLength
        stats.piecesFromSupernode++
      } else {
        stats.bytesFromPeers += outcome.bytes.byteLength
        stats.piecesFromPeers++
      }
      if (this.o.hashWhole) await task.digest.advance(task.have, { piece: a.piece, bytes: outcome.bytes }).catch((error) => void (this.fatal ??= error))
      this.o.progress?.()
      if (++this.stored % 32 === 0) await host.persist(task.taskId, this.o.url)
      return { piece: a.piece, from: a.from, ok: true, bytes: outcome.bytes.byteLength }
    } finally {
      await writer.close()
    }
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
