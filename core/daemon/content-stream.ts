import type { LentBody, ServeBindings } from '../contract/serve.ts'
import { createError, toDragonflyError } from '../errors.ts'
import type { Peer } from '../peer/peer.ts'
import { type PieceLayout, pieceRange } from '../protocol/piece-layout.ts'
import { BufferPool } from '../transfer/buffer-pool.ts'
import { storedPieceMatches } from '../transfer/stored-pieces.ts'

/**
 * Piece buffers the lent bodies of one peer keep for reuse, all streams together (the runtime hands one back as soon as
 * the kernel has it; a stream holds two or three at a time). They are the runtime's page-aligned memory, which
 * direct reads take and the hash thread reads in place: shared between streams, so many short streams do not
 * each make new ones.
 */
const LENT_BUFFERS = 6
/**
 * Pieces read back and checked at once ahead of the one the runtime is sending: each waits on the disk, then on
 * the hash thread. A 1 GiB answer through the proxy, alternating (`bench:throughput --via proxy`, 3 rounds each,
 * twice): one ahead 2.72-2.86 s, two 2.17-2.25 s with the daemon's peak RSS unchanged (125-127 MiB), three 2.15-2.23 s.
 */
const READ_AHEAD = 2
const lentPools = new WeakMap<Peer, BufferPool>()

function lentPool(peer: Peer): BufferPool {
  let pool = lentPools.get(peer)
  if (!pool) lentPools.set(peer, (pool = new BufferPool(LENT_BUFFERS, peer.options.allocate)))
  return pool
}

export interface ContentStreamOptions {
  peer: Peer
  taskId: string
  /** The download; it resolves only once the whole content matched its digest. */
  done: Promise<unknown>
  /** Raw `Range` header, if any (a single `bytes=` range; anything else is served whole). */
  range?: string | null
  /** Largest chunk `body` hands on at once (`lent` hands on whole pieces). @default 1 MiB */
  chunkSize?: number
}

export interface ContentStream {
  contentLength: number
  /** Bytes [start, end) of the content are streamed. */
  start: number
  end: number
  /** True when a satisfiable Range was asked for. */
  partial: boolean
  /** The bytes, each chunk in memory of its own. Read either this or `lent`, not both. */
  body: ReadableStream<Uint8Array>
  /** The same bytes read into a few reused buffers, for a runtime that says when it is done with each (`sendLent`); absent when the store cannot read into given memory. */
  lent?: LentBody
}

/**
 * Reads a download while it runs: the body yields bytes as soon as they and
 * every byte before them are in verified pieces, in order. The piece holding
 * the last byte of the range is held back until the download has verified
 * the whole content, so a client never receives a complete body whose digest
 * is wrong: on failure the stream errors instead (the connection is cut
 * short of its Content-Length). Resolves when the first bytes can be sent;
 * rejects if the download fails before that, so small contents fail cleanly.
 */
export async function openContentStream(options: ContentStreamOptions): Promise<ContentStream> {
  const { peer, taskId } = options
  const chunkSize = options.chunkSize ?? 1024 * 1024
  const stop = new AbortController()
  let verdict: { ok: true } | { ok: false; error: unknown } | undefined
  const settled = options.done.then(
    () => void (verdict = { ok: true }),
    (error: unknown) => void (verdict = { ok: false, error }),
  )
  let layout: PieceLayout | undefined
  let prefix = 0

  /** Waits until something changes: a piece, the layout, the verdict or a cancel. */
  const waitFor = async <T>(check: () => T | undefined): Promise<T> => {
    for (;;) {
      // Watch before looking, so a change in between is not missed; drop the watch whatever the look found.
      const watch = peer.progress.watch(taskId, stop.signal)
      try {
        if (verdict && !verdict.ok) throw toDragonflyError(verdict.error, 'E_DOWNLOAD_FAILED')
        const value = check()
        if (value !== undefined) return value
        if (stop.signal.aborted) throw createError('E_ABORTED', 'reader went away')
        await Promise.race([watch.changed, settled])
      } finally {
        watch.cancel()
      }
    }
  }

  const currentLayout = (): PieceLayout | undefined => {
    const task = peer.tasks.get(taskId)
    if (!task) {
      if (verdict?.ok) throw createError('E_IO', `task ${taskId} is no longer stored`)
      return undefined
    }
    if (layout && task.layout.contentLength !== layout.contentLength) {
      throw createError('E_DOWNLOAD_FAILED', `content length changed during the download (${layout.contentLength} → ${task.layout.contentLength})`)
    }
    layout ??= task.layout
    while (prefix < task.layout.pieceCount && task.have.has(prefix)) prefix++
    return layout
  }

  const first = await waitFor(currentLayout)
  const range = resolveRange(options.range ?? null, first.contentLength)
  if (range === 'unsatisfiable') {
    throw createError('E_BAD_REQUEST', `range ${options.range} is outside the content (${first.contentLength} bytes)`, {
      details: { status: 416, contentLength: first.contentLength },
    })
  }
  const { start, end } = range ?? { start: 0, end: first.contentLength }
  const heldFrom = end > start ? pieceRange(first, Math.floor((end - 1) / first.pieceSize)).start : end

  /** End of what may be sent now, beyond `at`; undefined to keep waiting. */
  const readyBeyond = (at: number) => (): number | undefined => {
    const l = currentLayout()
    if (!l) return undefined
    const verified = prefix === 0 ? 0 : pieceRange(l, prefix - 1).end
    const ready = Math.min(verdict?.ok ? end : heldFrom, verified, end)
    return ready > at || (at === end && verdict?.ok) ? ready : undefined
  }

  await waitFor(readyBeyond(start))
  let at = start
  const storage = peer.options.storage
  /** Claims, one at a time, the rest of the piece holding `at` (up to `end`) once it may be sent; undefined at the end. */
  let claims: Promise<unknown> = Promise.resolve()
  const claimNext = (): Promise<{ n: number; from: number; to: number } | undefined> => {
    const claim = claims.then(async () => {
      await waitFor(readyBeyond(at))
      if (at >= end) return undefined
      const n = Math.floor(at / first.pieceSize)
      const from = at
      at = Math.min(pieceRange(first, n).end, end)
      return { n, from, to: at }
    })
    claims = claim.catch(() => {})
    return claim
  }
  /**
   * The next claimed part, its piece read whole from the store into `into` when given, and checked against the
   * digest it was verified with when it arrived: what is on disk now may not be what was written (a client gets
   * no byte a check did not pass). Undefined at the end. A failure ends the reading.
   */
  const nextPiece = async (into?: (length: number) => Uint8Array): Promise<Uint8Array | undefined> => {
    try {
      const claim = await claimNext()
      if (!claim) return undefined
      const { n, from, to } = claim
      const piece = pieceRange(first, n)
      let bytes: Uint8Array
      if (into) {
        bytes = into(piece.length)
        // Read once, straight to the client: a store may read around its cache (storage-fs: O_DIRECT into aligned memory).
        await storage.readInto!(taskId, piece.start, bytes, { once: true })
      } else bytes = await storage.readAt(taskId, piece.start, piece.length)
      if (!(await storedPieceMatches(peer.options, bytes, peer.tasks.get(taskId)?.pieceDigests[n]))) {
        throw createError('E_IO', `piece ${n} of task ${taskId} on disk is not the piece that was verified`)
      }
      return bytes.subarray(from - piece.start, to - piece.start)
    } catch (error) {
      stop.abort()
      throw error
    }
  }
  /** Parts of a checked piece not yet handed to the body stream (at most `chunkSize` each). */
  let parts: Uint8Array[] = []
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          if (parts.length === 0) {
            const part = await nextPiece()
            if (!part) return controller.close()
            parts = splitChunks(part, chunkSize)
          }
          controller.enqueue(parts.shift()!)
        } catch (error) {
          controller.error(error)
        }
      },
      cancel() {
        stop.abort()
      },
    },
    { highWaterMark: 0 },
  )
  let lent: LentBody | undefined
  if (storage.readInto) {
    const pool = lentPool(peer)
    const take = (n: number): Uint8Array => pool.take(n)
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      // READ_AHEAD pieces read (and checked) while the runtime sends the last. Each chunk is one piece's buffer,
      // given back once: a piece is never split here.
      const ahead: Promise<Uint8Array | undefined>[] = []
      try {
        for (;;) {
          while (ahead.length < READ_AHEAD) {
            const next = nextPiece(take)
            // Its failure is met when it is awaited; one never awaited (the client went away) is dropped.
            next.catch(() => {})
            ahead.push(next)
          }
          const bytes = await ahead.shift()
          if (!bytes) return
          yield bytes
        }
      } finally {
        stop.abort()
        // Pieces read ahead and never sent go back to the pool.
        const giveBack = (bytes: Uint8Array | undefined): void => bytes && pool.give(bytes)
        for (const next of ahead) void next.then(giveBack, () => {})
      }
    }
    lent = { chunks: chunks(), release: (chunk) => pool.give(chunk), cancel: () => stop.abort() }
  }
  return { contentLength: first.contentLength, start, end, partial: range !== null, body, ...(lent ? { lent } : {}) }
}

function splitChunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const parts: Uint8Array[] = []
  for (let at = 0; at < bytes.byteLength; at += size) parts.push(bytes.subarray(at, at + size))
  return parts
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; null when absent or not understood (served whole). */
export function resolveRange(header: string | null, length: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '')
  if (!m || (m[1] === '' && m[2] === '')) return null
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0) return 'unsatisfiable'
    return { start: Math.max(0, length - suffix), end: length }
  }
  const start = Number(m[1])
  const last = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1)
  if (start >= length || last < start) return 'unsatisfiable'
  return { start, end: last + 1 }
}

/**
 * The HTTP answer for a content stream: 200, or 206 with Content-Range. With
 * `bindings` from a runtime that can send lent chunks, the body is read into
 * a few reused buffers.
 */
export function contentResponse(stream: ContentStream, method: string, headers: Record<string, string> = {}, bindings?: ServeBindings): Response {
  const h = new Headers({
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    ...headers,
    'content-length': String(stream.end - stream.start),
  })
  if (stream.partial) h.set('content-range', `bytes ${stream.start}-${stream.end - 1}/${stream.contentLength}`)
  const status = stream.partial ? 206 : 200
  if (method === 'HEAD') void stream.body.cancel()
  else if (stream.lent && bindings?.sendLent) return bindings.sendLent(status, h, stream.lent)
  return new Response(method === 'HEAD' ? null : stream.body, { status, headers: h })
}
