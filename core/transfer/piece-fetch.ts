import type { CreateHash, CreatePieceHasher } from '../contract/hash.ts'
import { fetchPieceGet, type PieceHttpGet, type PieceHttpResponse } from '../contract/piece-get.ts'
import type { PieceTransform } from '../contract/plugin.ts'
import type { PieceResult } from '../protocol/api-schema.ts'
import { hashHex } from '../protocol/digest.ts'
import { ACCEPT_CODING_HEADER, acceptCodingHeader, CODING_HEADER, decodePiece } from '../protocol/piece-coding.ts'
import { pieceUrl } from '../protocol/routes.ts'
import { PACING_STEP, type RateLimiter } from './rate-limit.ts'

export interface PieceFetch {
  /** Piece server base URL (a peer's or the supernode's). */
  base: string
  taskId: string
  piece: number
  size: number
  digest: string
  /** The runtime's sha256, used to verify the piece. */
  createHash: CreateHash
  /** Hashes plain pieces off this thread, run by run (the runtime's, where it has one); `createHash` otherwise. */
  createPieceHasher?: CreatePieceHasher
  timeoutMs: number
  headers?: Record<string, string>
  signal?: AbortSignal
  /** Transforms this receiver can decode; offered in `x-dragonfly-accept-coding`. */
  transforms?: readonly PieceTransform[]
  /** Memory to receive into (a pool's buffer: no allocation per piece); used when large enough. */
  buffer?: Uint8Array
  /** The HTTP GET to use. @default fetch */
  get?: PieceHttpGet
  /** Paces the body as it is read (`--rate-limit`); time spent waiting on it does not count against `timeoutMs`. */
  limiter?: RateLimiter
  /**
   * Hands over each run of a plain (uncoded) body, a whole multiple of
   * `STREAM_RUN` bytes except the last, as soon as it arrived, with its offset
   * in the piece: writing it then copies memory that is still in cache, and
   * runs start and end on block boundaries (direct I/O). The bytes are not
   * verified yet; the whole piece is handed over before an `ok` outcome. The
   * views stay valid until `fetchPiece` settles (they are `buffer`'s).
   */
  onBytes?: (bytes: Uint8Array, offset: number) => void
  /** Called with the serving node's piece map when its answer carries one (HAVE_HEADER). */
  onHave?: (encoded: string) => void
}

/**
 * Header of a piece answer that carries the serving node's piece map (base64
 * bitset): a child fetching from a parent learns its holdings without asking.
 * Left out past MAX_HAVE_HEADER_PIECES pieces (the header would pass 2.7 KB).
 */
export const HAVE_HEADER = 'x-dragonfly-have'
export const MAX_HAVE_HEADER_PIECES = 16_384

/**
 * Plain bytes are hashed in runs of this size or more: on a slow link a body
 * arrives in chunks of 1-16 KB, and one hash update per chunk cost a peer
 * 8x the hashing itself (measured in a 20 Mbit/s swarm's CPU profile).
 */
const HASH_RUN = 128 * 1024

/**
 * The unit of the runs `onBytes` and a piece hasher get. Measured on a 1 GiB
 * download through the page cache (4 MiB pieces, 4 in flight): 1 MiB runs
 * 1.78 s median, 256 KiB 1.88 s (more write calls), whole pieces 2.23 s (the
 * kernel copies from memory no longer in cache). With direct writes on 16
 * pool threads (8 pieces in flight, 12 rounds alternating): 1 MiB runs 1.40
 * and 1.44 s, 2 MiB 1.32 s, 4 MiB 1.35 s; half the writes and hash messages.
 * 2 MiB keeps a run in cache for the page-cache path.
 */
export const STREAM_RUN = 2 * 1024 * 1024

export type PieceOutcome =
  /** `handed`: every byte went through `onBytes`. */
  | { ok: true; bytes: Uint8Array; wireBytes: number; handed: boolean }
  /** `status`: the piece server's answer when it was not 200; `missingCoding`: it requires a coding (406) this receiver has no transform for. */
  | { ok: false; error: NonNullable<PieceResult['error']>; message: string; status?: number; missingCoding?: { coding: string; stage?: string } }

/**
 * Fetches one piece and verifies it against the digest the supernode gave.
 * Never throws: every failure is classified so the scheduler can act on it
 * (a wrong digest or a wrong length isolates the source; a reset or refused
 * connection counts against its reachability).
 */
export async function fetchPiece(job: PieceFetch): Promise<PieceOutcome> {
  // One signal for the timeout and the caller's (AbortSignal.any, twice per piece, was a visible cost on Node 20).
  const timeout = new PieceTimeout(job.timeoutMs, job.signal)
  try {
    return await receivePiece(job, timeout.signal, timeout)
  } finally {
    timeout.clear()
  }
}

async function receivePiece(job: PieceFetch, signal: AbortSignal, timeout: PieceTimeout): Promise<PieceOutcome> {
  const transforms = job.transforms ?? []
  const headers = transforms.length ? { ...job.headers, [ACCEPT_CODING_HEADER]: acceptCodingHeader(transforms) } : job.headers
  let response: PieceHttpResponse
  try {
    response = await (job.get ?? fetchPieceGet)(pieceUrl(job.base, job.taskId, job.piece), { signal, headers, into: job.buffer })
  } catch (error) {
    return failure(timeout.timedOut ? 'timeout' : 'unreachable', error)
  }
  if (response.status !== 200) {
    const missingCoding = response.status === 406 ? await requiredCoding(response) : undefined
    response.cancel()
    return {
      ok: false,
      error: 'http',
      message: `piece server answered ${response.status}`,
      status: response.status,
      ...(missingCoding ? { missingCoding } : {}),
    }
  }
  const have = job.onHave ? response.header(HAVE_HEADER) : null
  if (have) job.onHave!(have)
  const coding = response.header(CODING_HEADER)
  const coded = coding !== null && coding !== 'identity'
  const limit = coded ? codedSizeLimit(job.size) : job.size
  let bytes: Uint8Array = job.buffer && job.buffer.byteLength >= limit ? job.buffer : new Uint8Array(limit)
  let filled = 0
  // Plain pieces are hashed (and handed over) as they arrive, while each chunk is still in cache: on this
  // thread chunk by chunk, or on the runtime's hash thread run by run.
  const away = coded ? undefined : job.createPieceHasher?.()
  const hash = coded || away ? null : job.createHash()
  const onBytes = coded ? undefined : job.onBytes
  // Runs are whole multiples of STREAM_RUN, so they start and end at aligned offsets (direct I/O).
  const runs = onBytes !== undefined || away !== undefined
  let handed = 0
  let hashed = 0
  // Bytes received but not yet booked with the limiter (booked a pacing step at a time).
  let owed = 0
  let digested = false
  try {
    try {
      for await (const chunk of response.chunks) {
        if (filled + chunk.byteLength > limit) {
          response.cancel()
          return { ok: false, error: 'digest', message: `piece ${job.piece} is longer than ${limit} bytes on the wire` }
        }
        // A GET that read straight into our buffer hands views at their place: nothing to copy.
        if (chunk.buffer !== bytes.buffer || chunk.byteOffset !== bytes.byteOffset + filled) bytes.set(chunk, filled)
        filled += chunk.byteLength
        if (hash && filled - hashed >= HASH_RUN) {
          hash.update(bytes.subarray(hashed, filled))
          hashed = filled
        }
        if (runs && filled - handed >= STREAM_RUN) {
          const end = filled - ((filled - handed) % STREAM_RUN)
          const run = bytes.subarray(handed, end)
          away?.update(run)
          onBytes?.(run, handed)
          handed = end
        }
        owed += chunk.byteLength
        if (job.limiter && owed >= PACING_STEP) {
          await timeout.pause(job.limiter.take(owed, signal))
          owed = 0
        }
      }
      if (job.limiter && owed) await timeout.pause(job.limiter.take(owed, signal))
    } catch (error) {
      response.cancel()
      return failure(timeout.timedOut ? 'timeout' : 'unreachable', error)
    }
    const wireBytes = filled
    if (hash && filled > hashed) hash.update(bytes.subarray(hashed, filled))
    if (runs && filled > handed && filled === job.size) {
      const run = bytes.subarray(handed, filled)
      away?.update(run)
      onBytes?.(run, handed)
    }
    if (coded) {
      try {
        // Plugins get memory of their own: Web Crypto, for one, refuses views of shared memory (the runtime's `allocate`).
        const input = bytes.buffer instanceof SharedArrayBuffer ? bytes.slice(0, filled) : bytes.subarray(0, filled)
        bytes = await decodePiece(transforms, input, coding, { taskId: job.taskId, piece: job.piece, size: job.size })
      } catch (error) {
        return { ok: false, error: 'digest', message: (error as Error).message }
      }
      filled = bytes.byteLength
    }
    if (filled !== job.size) return { ok: false, error: 'digest', message: `piece ${job.piece} has ${filled} of ${job.size} bytes` }
    digested = true
    // The bytes are still in `bytes`: if the hash thread failed, they are hashed here.
    const digest = away
      ? await away.digest().catch(() => hashHex(job.createHash, bytes.subarray(0, filled)))
      : hash
        ? hash.digest()
        : hashHex(job.createHash, bytes)
    if (digest !== job.digest) return { ok: false, error: 'digest', message: `piece ${job.piece} digest ${digest} does not match ${job.digest}` }
    return { ok: true, bytes: bytes.subarray(0, filled), wireBytes, handed: onBytes !== undefined }
  } finally {
    // A hash given up on is still finished, or the hash thread would keep its state.
    if (away && !digested) void away.digest().catch(() => {})
  }
}

/** Most bytes a coded piece of `size` may take on the wire (IV, tag, a compressor's worst case). */
export function codedSizeLimit(size: number): number {
  return size + (size >> 3) + 4096
}

/**
 * A piece's deadline, pushed back by the time spent waiting on our own rate
 * limiter; its signal also follows the caller's (`parent`).
 */
class PieceTimeout {
  private readonly controller = new AbortController()
  readonly signal = this.controller.signal
  /** The deadline passed (not the caller's abort). */
  timedOut = false
  private deadline: number
  private timer: ReturnType<typeof setTimeout>
  private readonly onParent = (): void => this.controller.abort(this.parent!.reason)

  constructor(
    ms: number,
    private readonly parent?: AbortSignal,
  ) {
    this.deadline = performance.now() + ms
    this.timer = this.arm()
    if (parent?.aborted) this.onParent()
    else parent?.addEventListener('abort', this.onParent, { once: true })
  }

  async pause(wait: Promise<void>): Promise<void> {
    const started = performance.now()
    try {
      await wait
    } finally {
      this.deadline += performance.now() - started
    }
  }

  clear(): void {
    clearTimeout(this.timer)
    this.parent?.removeEventListener('abort', this.onParent)
  }

  private arm(): ReturnType<typeof setTimeout> {
    return setTimeout(
      () => {
        const left = this.deadline - performance.now()
        if (left > 1) this.timer = this.arm()
        else {
          this.timedOut = true
          this.controller.abort(new DOMException('piece timed out', 'TimeoutError'))
        }
      },
      Math.max(1, this.deadline - performance.now()),
    )
  }
}

function failure(error: 'timeout' | 'unreachable', cause: unknown): PieceOutcome {
  return { ok: false, error, message: (cause as Error)?.message ?? String(cause) }
}

/** The coding a 406 names in its error body's details (E_NOT_ACCEPTABLE from the piece encoder). */
async function requiredCoding(response: PieceHttpResponse): Promise<{ coding: string; stage?: string } | undefined> {
  try {
    const parts: Uint8Array[] = []
    let size = 0
    for await (const chunk of response.chunks) {
      size += chunk.byteLength
      if (size > 4096) return undefined
      parts.push(chunk.slice())
    }
    const body = JSON.parse(await new Blob(parts as BlobPart[]).text()) as { error?: { details?: { coding?: unknown; stage?: unknown } } }
    const { coding, stage } = body.error?.details ?? {}
    return typeof coding === 'string' ? { coding, ...(typeof stage === 'string' ? { stage } : {}) } : undefined
  } catch {
    return undefined
  }
}
