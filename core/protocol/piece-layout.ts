import { createError } from '../errors.ts'

/**
 * Dynamic piece size: aim for about TARGET_PIECES pieces, rounded to a power of
 * two, kept within [MIN_PIECE_SIZE, MAX_PIECE_SIZE]. Small files get small
 * pieces (parallelism), large files get large pieces (bounded per-piece
 * overhead); a receiver buffers at most MAX_PIECE_SIZE per piece in flight.
 *
 * A piece is passed on only once it is whole, so each hop of a swarm costs a
 * piece's time at the sender's share of its uplink: at the start of a swarm
 * that is most of the wait. With 256 KiB as the least size a 32 MiB file had
 * 128 pieces, and 8 peers on 20 Mbit/s links spent ~3 s before their uplinks
 * were busy; at 128 KiB (256 pieces) ~1.5 s (bench/README.md, "Smaller pieces").
 * 64 KiB cost more CPU than it saved.
 */
export const MIN_PIECE_SIZE = 128 * 1024
export const MAX_PIECE_SIZE = 8 * 1024 * 1024
export const TARGET_PIECES = 256
/** At most this many pieces per task (8 TiB at the largest piece size): bounds every per-task array and bitmap. */
export const MAX_PIECE_COUNT = 1 << 20
/** Used while the content length is unknown (chunked source responses). */
export const UNKNOWN_LENGTH_PIECE_SIZE = 4 * 1024 * 1024

export function computePieceSize(contentLength: number | null): number {
  if (contentLength === null || !Number.isFinite(contentLength) || contentLength < 0) return UNKNOWN_LENGTH_PIECE_SIZE
  const ideal = Math.ceil(contentLength / TARGET_PIECES)
  let size = MIN_PIECE_SIZE
  while (size < ideal && size < MAX_PIECE_SIZE) size *= 2
  return size
}

export interface PieceLayout {
  contentLength: number
  pieceSize: number
  pieceCount: number
}

/** A layout; throws E_SOURCE_TOO_LONG past MAX_PIECE_COUNT pieces and E_BAD_REQUEST for a nonsensical size (both may come from outside). */
export function createPieceLayout(contentLength: number, pieceSize = computePieceSize(contentLength)): PieceLayout {
  if (!Number.isSafeInteger(contentLength) || contentLength < 0 || !Number.isSafeInteger(pieceSize) || pieceSize <= 0 || pieceSize > MAX_PIECE_SIZE) {
    throw createError('E_BAD_REQUEST', `invalid content length ${contentLength} or piece size ${pieceSize}`)
  }
  const pieceCount = contentLength === 0 ? 0 : Math.ceil(contentLength / pieceSize)
  if (pieceCount > MAX_PIECE_COUNT)
    throw createError('E_SOURCE_TOO_LONG', `${contentLength} bytes in pieces of ${pieceSize} is more than ${MAX_PIECE_COUNT} pieces`)
  return { contentLength, pieceSize, pieceCount }
}

/** True when `createPieceLayout` accepts these (a stored record is trusted only then). */
export function isValidLayout(contentLength: number, pieceSize: number): boolean {
  try {
    createPieceLayout(contentLength, pieceSize)
    return true
  } catch {
    return false
  }
}

/** Byte range [start, end) of piece `n`. */
export function pieceRange(layout: PieceLayout, n: number): { start: number; end: number; length: number } {
  const start = n * layout.pieceSize
  const end = Math.min(start + layout.pieceSize, layout.contentLength)
  return { start, end, length: end - start }
}

/** Bytes covered by the pieces set in `have` (the last piece may be short). */
export function bytesHeld(layout: PieceLayout, have: { count: number; has(n: number): boolean }): number {
  if (layout.pieceCount === 0) return 0
  const last = layout.pieceCount - 1
  return have.has(last) ? (have.count - 1) * layout.pieceSize + pieceRange(layout, last).length : have.count * layout.pieceSize
}
