import { type CreateHash, hashHex } from './digest.ts'
import type { PieceResult } from './swarm.ts'

export interface PieceFetch {
  /** Piece server base URL (a peer's or the supernode's). */
  base: string
  taskId: string
  piece: number
  size: number
  digest: string
  /** The runtime's sha256, used to verify the piece. */
  createHash: CreateHash
  timeoutMs: number
  headers?: Record<string, string>
  signal?: AbortSignal
}

export type PieceOutcome =
  | { ok: true; bytes: Uint8Array; wireBytes: number }
  | { ok: false; error: NonNullable<PieceResult['error']>; message: string }

/**
 * Fetches one piece and verifies it against the digest the supernode gave.
 * Never throws: every failure is classified so the scheduler can act on it
 * (a wrong digest or a wrong length isolates the source; a reset or refused
 * connection counts against its reachability).
 */
export async function fetchPiece(job: PieceFetch): Promise<PieceOutcome> {
  const timeout = AbortSignal.timeout(job.timeoutMs)
  const signal = job.signal ? AbortSignal.any([job.signal, timeout]) : timeout
  let response: Response
  try {
    response = await fetch(`${job.base}/pieces/${job.taskId}/${job.piece}`, { signal, headers: job.headers })
  } catch (error) {
    return failure(timeout.aborted ? 'timeout' : 'unreachable', error)
  }
  if (response.status !== 200 || !response.body) {
    await response.body?.cancel().catch(() => {})
    return { ok: false, error: 'http', message: `piece server answered ${response.status}` }
  }
  const bytes = new Uint8Array(job.size)
  let filled = 0
  const reader = response.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (filled + value.byteLength > job.size) {
        await reader.cancel().catch(() => {})
        return { ok: false, error: 'digest', message: `piece ${job.piece} is longer than ${job.size} bytes` }
      }
      bytes.set(value, filled)
      filled += value.byteLength
    }
  } catch (error) {
    return failure(timeout.aborted ? 'timeout' : 'unreachable', error)
  }
  if (filled !== job.size) return { ok: false, error: 'digest', message: `piece ${job.piece} has ${filled} of ${job.size} bytes` }
  const digest = hashHex(job.createHash, bytes)
  if (digest !== job.digest) return { ok: false, error: 'digest', message: `piece ${job.piece} digest ${digest} does not match ${job.digest}` }
  return { ok: true, bytes, wireBytes: filled }
}

function failure(error: 'timeout' | 'unreachable', cause: unknown): PieceOutcome {
  return { ok: false, error, message: (cause as Error)?.message ?? String(cause) }
}
