import type { CreateHash, CreatePieceHasher } from '../contract/hash.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { hashHex } from '../protocol/digest.ts'
import { type PieceLayout, pieceRange } from '../protocol/piece-layout.ts'

/**
 * Reads pieces back from a store and hashes them against the digests recorded
 * when they were verified: the disk between two runs (a crash mid-write, bit
 * rot, a tampered cache file) is not trusted. Returns the pieces that do not
 * match, cannot be read, or have no digest to compare with.
 */
export async function findBadPieces(
  storage: StorageDriver,
  createHash: CreateHash,
  taskId: string,
  layout: PieceLayout,
  pieces: Iterable<number>,
  digestOf: (piece: number) => string | undefined,
): Promise<number[]> {
  const bad: number[] = []
  for (const n of pieces) {
    const want = digestOf(n)
    const r = pieceRange(layout, n)
    const bytes = want ? await storage.readAt(taskId, r.start, r.length).catch(() => null) : null
    if (!bytes || bytes.byteLength !== r.length || !(await storedPieceMatches({ createHash }, bytes, want))) bad.push(n)
  }
  return bad
}

/**
 * Whether a piece read back from a store (`bytes`, whole) is the piece verified against `want`. Hashed on the
 * runtime's hash thread when there is one and the bytes are its shared memory (read in place), else on this
 * thread; a hash thread that fails is replaced by this thread, as for received pieces.
 */
export async function storedPieceMatches(
  hash: { createHash: CreateHash; createPieceHasher?: CreatePieceHasher | undefined },
  bytes: Uint8Array,
  want: string | undefined,
): Promise<boolean> {
  if (!want) return false
  if (!hash.createPieceHasher || !(bytes.buffer instanceof SharedArrayBuffer)) return hashHex(hash.createHash, bytes) === want
  const hasher = hash.createPieceHasher()
  hasher.update(bytes)
  return (await hasher.digest().catch(() => hashHex(hash.createHash, bytes))) === want
}
