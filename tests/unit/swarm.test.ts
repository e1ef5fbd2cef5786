import { describe, expect, it } from 'vitest'
import { SUPERNODE_ID } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { Swarm } from '../../core/supernode/scheduler/swarm.ts'
import { settle, tracked } from '../helpers/promise-state.ts'

const PIECES = 8
function seeded(): Swarm {
  const swarm = new Swarm('t'.repeat(64), createPieceLayout(PIECES * 262144, 262144))
  for (let i = 0; i < PIECES; i++) swarm.seedPiece(i, `d${i}`)
  return swarm
}
const holding = (size: number, pieces: number[]): Bitset => {
  const b = new Bitset(size)
  for (const p of pieces) b.set(p)
  return b
}
const full = new Bitset(PIECES)
for (let i = 0; i < PIECES; i++) full.set(i)

describe('swarm', () => {
  it('counts a reported piece as held and frees the source slot', () => {
    const swarm = seeded()
    swarm.register('a', { address: 'http://a' }, 0)
    const [first] = swarm.pull('a', [], 1, 0)
    expect(first).toMatchObject({ from: SUPERNODE_ID })
    expect(swarm.seed.uploading).toBe(1)
    swarm.pull('a', [{ piece: first!.piece, from: SUPERNODE_ID, ok: true, bytes: 262144 }], 0, 1)
    expect(swarm.seed.uploading).toBe(0)
    expect(swarm.holders[first!.piece]).toBe(1)
    expect(swarm.peer('a').have.has(first!.piece)).toBe(true)
  })

  it('isolates a peer that served a wrong digest, for every requester and under a new peer id', () => {
    const swarm = seeded()
    swarm.register('bad', { address: 'http://bad', have: full.toBase64() }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    const [a] = swarm.pull('me', [], 1, 0)
    expect(a!.from).toBe('bad')
    swarm.pull('me', [{ piece: a!.piece, from: 'bad', ok: false, error: 'digest' }], 0, 1)
    expect(swarm.peer('bad').isolated).toBe(true)
    expect(Array.from(swarm.holders)).toEqual(new Array(PIECES).fill(0))
    swarm.register('other', { address: 'http://other' }, 2)
    expect(swarm.pull('other', [], 8, 2).every((x) => x.from === SUPERNODE_ID)).toBe(true)
    swarm.register('bad-again', { address: 'http://bad', have: full.toBase64() }, 3)
    expect(swarm.peer('bad-again').isolated).toBe(true)
  })

  it('forgets a peer that is unreachable and silent, freeing the pieces it was fetching', () => {
    const swarm = seeded()
    swarm.register('dead', { address: 'http://dead', have: full.toBase64() }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    const [a] = swarm.pull('me', [], 1, 10_000)
    expect(a!.from).toBe('dead')
    swarm.pull('me', [{ piece: a!.piece, from: 'dead', ok: false, error: 'unreachable' }], 0, 10_001)
    expect(swarm.peers.has('dead')).toBe(false)
    expect(swarm.pull('me', [], 1, 10_002)[0]!.from).toBe(SUPERNODE_ID)
  })

  it('a lone peer whose piece from the supernode failed is given it again once the blacklist entry expires (no hang)', () => {
    const swarm = new Swarm('t'.repeat(64), createPieceLayout(2 * 262144, 262144), { blacklistMs: 5000 })
    swarm.seedPiece(0, 'd0')
    swarm.seedPiece(1, 'd1')
    swarm.register('a', { address: 'http://a' }, 0)
    const first = swarm.pull('a', [], 2, 0)
    expect(first.map((a) => a.from)).toEqual([SUPERNODE_ID, SUPERNODE_ID])
    const failed = first.map((a) => ({ piece: a.piece, from: a.from, ok: false, error: 'timeout' as const }))
    expect(swarm.pull('a', failed, 2, 100)).toEqual([])
    // The supernode's long-poll wakes the requester when the entry expires, not at the end of the poll.
    expect(swarm.retryIn('a', 100)).toBe(5000)
    expect(swarm.pull('a', [], 2, 5099)).toEqual([])
    expect(swarm.pull('a', [], 2, 5100).map((a) => a.from)).toEqual([SUPERNODE_ID, SUPERNODE_ID])
    expect(swarm.retryIn('a', 5100)).toBeUndefined()
  })

  it('reclaims an assignment that was never reported after the piece timeout', () => {
    const swarm = new Swarm('t'.repeat(64), createPieceLayout(262144, 262144), { pieceTimeoutMs: 1000 })
    swarm.seedPiece(0, 'd0')
    swarm.register('me', { address: 'http://me' }, 0)
    expect(swarm.pull('me', [], 1, 0)).toHaveLength(1)
    expect(swarm.pull('me', [], 1, 500)).toHaveLength(0)
    expect(swarm.seed.uploading).toBe(1)
    swarm.pull('me', [], 0, 2000)
    expect(swarm.seed.uploading).toBe(0)
  })

  it('expires peers that stopped pulling, and their pieces leave the swarm', () => {
    const swarm = seeded()
    swarm.register('gone', { address: 'http://gone', have: full.toBase64() }, 0)
    expect(swarm.holders[0]).toBe(1)
    expect(swarm.expire(100_000)).toEqual(['gone'])
    expect(swarm.holders[0]).toBe(0)
  })

  it('wakes a long-polling waiter when something changes, and not before', async () => {
    const swarm = seeded()
    const waited = tracked(swarm.waitForChange(60_000))
    await settle()
    expect(waited.done).toBe(false)
    swarm.register('a', { address: 'http://a' }, 0)
    await settle()
    expect(waited.done).toBe(true)
  })
  it('keeps a holder index of live peers: a holder joins it when it gets a piece and leaves it when isolated', () => {
    const swarm = seeded()
    swarm.register('a', { address: 'http://a' }, 0)
    const [first] = swarm.pull('a', [], 1, 0)
    swarm.pull('a', [{ piece: first!.piece, from: SUPERNODE_ID, ok: true, bytes: 1 }], 0, 1)
    expect(swarm.holdersOf(first!.piece).map((p) => p.id)).toEqual(['a'])
    swarm.isolate(swarm.peer('a'))
    expect(swarm.holdersOf(first!.piece)).toEqual([])
  })

  it('wakes as many long-polling waiters as a change frees or adds upload slots, oldest first; changed() wakes all', () => {
    const swarm = seeded()
    const woken: number[] = []
    for (let i = 0; i < 10; i++) swarm.onWake(() => woken.push(i))
    swarm.register('empty', { address: 'http://empty' }, 0)
    // Nothing to serve, yet one waiter gets a look: every change wakes at least the oldest.
    expect(woken).toEqual([0])
    swarm.register('full', { address: 'http://full', have: full.toBase64(), slots: 3 }, 0)
    expect(woken).toEqual([0, 1, 2, 3])
    swarm.changed()
    expect(woken).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('a delivered piece wakes one waiter for the freed slot plus one per free slot of the new holder', () => {
    const swarm = seeded()
    swarm.register('a', { address: 'http://a', slots: 2 }, 0)
    const [first] = swarm.pull('a', [], 1, 0)
    let woken = 0
    for (let i = 0; i < 10; i++) swarm.onWake(() => woken++)
    swarm.pull('a', [{ piece: first!.piece, from: SUPERNODE_ID, ok: true, bytes: 1 }], 0, 1)
    expect(woken).toBe(3)
  })

  it('a supernode with a limited uplink serves held pieces only while it uploads nothing else', () => {
    for (const limited of [false, true]) {
      const swarm = new Swarm('t'.repeat(64), createPieceLayout(3 * 262144, 262144), { seedUplinkLimited: limited })
      for (let i = 0; i < 3; i++) swarm.seedPiece(i, `d${i}`)
      // 'h' holds piece 0 and its one slot goes to 'x2', which holds pieces 1 and 2.
      swarm.register('h', { address: 'http://h', have: holding(3, [0]).toBase64(), slots: 1 }, 0)
      swarm.register('x2', { address: 'http://x2', have: holding(3, [1, 2]).toBase64() }, 0)
      expect(swarm.pull('x2', [], 1, 0)).toEqual([{ piece: 0, from: 'h' }])
      swarm.register('y', { address: 'http://y' }, 0)
      swarm.isolate(swarm.peer('x2'))
      swarm.register('x3', { address: 'http://x3', have: holding(3, [1]).toBase64() }, 0)
      // Piece 2 is now only on the supernode: a first copy for 'y'.
      expect(swarm.pull('y', [], 1, 0)).toEqual([{ piece: 2, from: SUPERNODE_ID }])
      // The supernode is uploading (a first copy). Piece 0's holder is saturated: the supernode stands in only when its uplink is not limited.
      swarm.register('me', { address: 'http://me' }, 0)
      const pieces = swarm.pull('me', [], 2, 1).map((a) => `${a.piece}:${a.from}`)
      expect(pieces, `limited ${limited}`).toEqual(limited ? ['1:x3'] : ['1:x3', `0:${SUPERNODE_ID}`])
    }
  })
})
