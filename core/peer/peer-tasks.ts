import type { CreateHash } from '../contract/hash.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { Bitset } from '../protocol/bitset.ts'
import { bytesHeld, createPieceLayout, isValidLayout, type PieceLayout, pieceRange } from '../protocol/piece-layout.ts'
import type { CapabilityGate } from '../transfer/capability.ts'
import { OrderedDigest } from '../transfer/ordered-digest.ts'
import { findBadPieces } from '../transfer/stored-pieces.ts'

/** A task as this peer holds it: what it can serve to others. */
export interface LocalTask {
  taskId: string
  layout: PieceLayout
  have: Bitset
  digest: OrderedDigest
  /** The digest (hex) each held piece was verified against, so a later run can check the bytes on disk. */
  pieceDigests: (string | undefined)[]
  /** Private task: who may have its pieces (the supernode's key checks their capabilities). */
  gate?: CapabilityGate
  /** Private task: this peer's own capability, sent with its piece requests. */
  capability?: string
  /** Fetched from the source with credentials and vouched for by no supernode: its piece server serves it to nobody. */
  closed?: boolean
}

/** Who a task's pieces are served to, and what this peer sends for them (set at registration). */
export type TaskAccess = Pick<LocalTask, 'gate' | 'capability' | 'closed'>

/** What a peer keeps beside a task's bytes so an interrupted download resumes. */
interface PeerMeta {
  url: string
  contentLength: number
  pieceSize: number
  have: string
  /** Per piece, the digest it was verified against (null: none); a held piece without one is fetched again. */
  digests?: (string | null)[]
}

/** The whole-content digest of a task, fed in piece order from what is stored. */
export function newTaskDigest(storage: StorageDriver, createHash: CreateHash, taskId: string, layout: PieceLayout): OrderedDigest {
  return new OrderedDigest(createHash, layout.pieceCount, async (n, target) => {
    const r = pieceRange(layout, n)
    if (!storage.readInto) return storage.readAt(taskId, r.start, r.length)
    const into = target(r.length)
    await storage.readInto(taskId, r.start, into)
    return into
  })
}

/** Saves which pieces are verified. Best effort: a failed save costs a refetch, not the download. */
export async function saveTaskState(storage: StorageDriver, task: LocalTask, url: string): Promise<void> {
  const meta: PeerMeta = {
    url,
    contentLength: task.layout.contentLength,
    pieceSize: task.layout.pieceSize,
    have: task.have.toBase64(),
    digests: Array.from({ length: task.layout.pieceCount }, (_, n) => (task.have.has(n) ? (task.pieceDigests[n] ?? null) : null)),
  }
  await storage.setMeta(task.taskId, meta).catch(() => {})
}

/**
 * The verified pieces a previous run left, or undefined when there are none or
 * the record is damaged. Each is read back and hashed first: a piece whose bytes
 * changed on disk since (or that has no recorded digest) is dropped, to be fetched again.
 */
export async function loadTaskState(storage: StorageDriver, createHash: CreateHash, taskId: string): Promise<LocalTask | undefined> {
  const meta = await storage.getMeta<PeerMeta>(taskId).catch(() => null)
  if (!meta || !isValidLayout(meta.contentLength, meta.pieceSize)) return undefined
  const layout = createPieceLayout(meta.contentLength, meta.pieceSize)
  let have: Bitset
  try {
    have = Bitset.fromBase64(layout.pieceCount, meta.have)
  } catch {
    return undefined
  }
  const recorded = meta.digests ?? []
  const pieceDigests = Array.from({ length: layout.pieceCount }, (_, n) => recorded[n] ?? undefined)
  const held = Array.from({ length: layout.pieceCount }, (_, n) => n).filter((n) => have.has(n))
  for (const n of await findBadPieces(storage, createHash, taskId, layout, held, (n) => pieceDigests[n])) {
    have.clear(n)
    pieceDigests[n] = undefined
  }
  return { taskId, layout, have, digest: newTaskDigest(storage, createHash, taskId, layout), pieceDigests }
}

/** Bytes of `task` not yet held: what its download still has to store. */
export function bytesMissing(task: LocalTask): number {
  return task.layout.contentLength - bytesHeld(task.layout, task.have)
}
