import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createPieceHasher, hashThread } from '../../runtime/node-hash-thread.ts'
import { allocateShared } from '../../runtime/page-memory.ts'

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const fill = (bytes: Uint8Array, seed: number): Uint8Array => bytes.map((_, i) => (i * seed + (i >> 9)) & 0xff)

describe('the Node hash thread', () => {
  it('hashes shared memory in place, run by run, several pieces interleaved, and plain memory by copy', async () => {
    const a = allocateShared(3 * 65536 + 100)
    const b = allocateShared(65536)
    a.set(fill(a, 7))
    b.set(fill(b, 11))
    const plain = fill(new Uint8Array(5000), 3)
    const ha = createPieceHasher()
    const hb = createPieceHasher()
    const hp = createPieceHasher()
    ha.update(a.subarray(0, 65536))
    hb.update(b)
    hp.update(plain.subarray(0, 100))
    ha.update(a.subarray(65536))
    hp.update(plain.subarray(100))
    const [da, db, dp] = await Promise.all([ha.digest(), hb.digest(), hp.digest()])
    expect(da).toBe(sha(a))
    expect(db).toBe(sha(b))
    expect(dp).toBe(sha(plain))
    expect(await createPieceHasher().digest()).toBe(sha(new Uint8Array(0)))
  })

  it('gives page-aligned shared memory of the size asked for', () => {
    const memory = allocateShared(4 * 1024 * 1024 + 1)
    expect(memory.byteLength).toBe(4 * 1024 * 1024 + 1)
    expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer)
    expect(memory.byteOffset).toBe(0)
  })

  it('a digest awaited when the thread stops is right or rejected, never wrong or left waiting; the next hasher starts a new thread', async () => {
    const bytes = allocateShared(65536)
    const large = allocateShared(32 * 1024 * 1024)
    const pending = createPieceHasher()
    pending.update(large)
    const digest = pending.digest()
    await hashThread.stop()
    // Usually stopped mid-hash (rejected: the caller hashes on its own thread); the thread may have answered first.
    await digest.then(
      (hex) => expect(hex).toBe(sha(large)),
      (error: unknown) => expect(String(error)).toMatch(/stopped/),
    )
    const begun = createPieceHasher()
    begun.update(bytes)
    // Begun on a thread that is gone: rejected rather than left waiting forever.
    await hashThread.stop()
    await expect(begun.digest()).rejects.toThrow(/stopped/)
    const next = createPieceHasher()
    next.update(bytes)
    expect(await next.digest()).toBe(sha(bytes))
  })
})
