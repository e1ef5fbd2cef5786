import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterEach, expect, it } from 'vitest'
import { seedSlotCap } from '../../core/peer/seed-slots.ts'
import type { SyncResponse } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { PIECE_MAP_ROUTE, PIECE_ROUTE, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { tempDir } from '../helpers/cli.ts'
import { startPeer } from '../helpers/swarm.ts'

// Issue 21: with two peers the supernode offered each of them all 8 fetches for first copies, so they swapped
// nothing until it had sent its last piece (bench:swarm --peers 2: 1.62x the bound, BitTorrent 1.35x).
const PIECE = 128 * 1024
const PIECES = 32
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

it('seedSlotCap leaves half the fetches to one parent, more to more parents, and all of them to a peer without parents', () => {
  expect(seedSlotCap(8, 0)).toBe(8)
  expect(seedSlotCap(8, 1)).toBe(4)
  expect(seedSlotCap(8, 2)).toBe(3)
  expect(seedSlotCap(8, 3)).toBe(2)
  expect(seedSlotCap(8, 7)).toBe(2)
  expect(seedSlotCap(1, 3)).toBe(1)
  expect(seedSlotCap(16, 1)).toBe(8)
})

it('a peer offered every fetch for first copies still takes what its parent holds meanwhile', async () => {
  const content = randomBytes(PIECE * PIECES)
  const digests = Array.from({ length: PIECES }, (_, n) =>
    createHash('sha256')
      .update(content.subarray(n * PIECE, (n + 1) * PIECE))
      .digest('hex'),
  )
  const taskId = 'a'.repeat(64)
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
  // The parent holds the second half of the file from the start and serves it at once.
  const parentHave = new Bitset(PIECES)
  for (let n = PIECES / 2; n < PIECES; n++) parentHave.set(n)
  let fromParent = 0
  const parentApp = new Hono()
    .get(PIECE_MAP_ROUTE, (c) => c.json({ count: parentHave.count, have: parentHave.toBase64() }))
    .get(PIECE_ROUTE, (c) => {
      const n = Number(c.req.param('piece'))
      if (!parentHave.has(n)) return c.json({ error: { code: 'E_PIECE_NOT_FOUND', message: 'no' } }, 404)
      fromParent++
      return c.body(content.subarray(n * PIECE, (n + 1) * PIECE), 200, { 'content-type': 'application/octet-stream', 'x-dragonfly-coding': 'identity' })
    })
  const parent = await nodeRuntime.serve(parentApp.fetch, { port: 0, hostname: '127.0.0.1' })
  cleanups.push(() => parent.close())

  // A supernode that grants the first half as first copies, offers 8 slots for them, names the parent, and sends
  // each first copy slowly: the peer's slots for the supernode are full for the whole test.
  let running = 0
  let most = 0
  let parentPiecesWhileSeeding = 0
  const snApp = new Hono()
  snApp.post(SUPERNODE_ROUTES.register, (c) =>
    c.json({ taskId, peerId: crypto.randomUUID(), contentLength: content.byteLength, pieceSize: PIECE, pieceCount: PIECES, peerSecret: 's'.repeat(43) }),
  )
  let granted = false
  snApp.post(SUPERNODE_ROUTES.sync, (c) => {
    const seed = granted ? [] : Array.from({ length: PIECES / 2 }, (_, n) => n)
    granted = true
    return c.json<SyncResponse>({
      parents: [{ id: crypto.randomUUID(), address: `http://127.0.0.1:${parent.port}` }],
      digestsFrom: 0,
      digests,
      seed,
      seedSlots: 8,
      syncAfterMs: 1000,
    })
  })
  snApp.post(SUPERNODE_ROUTES.leave, (c) => c.json({ ok: true }))
  snApp.get(PIECE_ROUTE, async (c) => {
    const n = Number(c.req.param('piece'))
    running++
    most = Math.max(most, running)
    // The parent's pieces that arrive while first copies are still being sent.
    const before = fromParent
    await sleep(150)
    parentPiecesWhileSeeding = Math.max(parentPiecesWhileSeeding, fromParent - before)
    running--
    return c.body(content.subarray(n * PIECE, (n + 1) * PIECE), 200, { 'content-type': 'application/octet-stream', 'x-dragonfly-coding': 'identity' })
  })
  const sn = await nodeRuntime.serve(snApp.fetch, { port: 0, hostname: '127.0.0.1' })
  cleanups.push(() => sn.close())

  const dir = await tempDir()
  const peer = await startPeer(join(dir, 'p'), [`http://127.0.0.1:${sn.port}`])
  cleanups.push(() => peer.close())
  const result = await peer.download({ url: 'http://127.0.0.1:9/file.bin' })
  expect(result.bytes).toBe(content.byteLength)
  expect(result.piecesFromSupernode).toBe(PIECES / 2)
  expect(result.piecesFromPeers).toBe(PIECES / 2)
  // At most half the fetches on first copies while a parent is listed (8 before the cap)...
  expect(most).toBeLessThanOrEqual(4)
  expect(most).toBeGreaterThan(1)
  // ...so the parent's pieces came while they ran, not after the last one.
  expect(parentPiecesWhileSeeding).toBeGreaterThan(0)
})
