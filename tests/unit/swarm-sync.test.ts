import { describe, expect, it } from 'vitest'
import { SUPERNODE_ID } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { Swarm, type SyncReport } from '../../core/supernode/scheduler/swarm.ts'

/** The parents protocol's supernode half: first copies, spare copies, parents, reports. */
const PIECES = 8
function seeded(options: ConstructorParameters<typeof Swarm>[2] = {}): Swarm {
  const swarm = new Swarm('t'.repeat(64), createPieceLayout(PIECES * 262144, 262144), options)
  for (let i = 0; i < PIECES; i++) swarm.seedPiece(i, `d${i}`)
  return swarm
}
const holding = (pieces: number[]): Bitset => {
  const b = new Bitset(PIECES)
  for (const p of pieces) b.set(p)
  return b
}
const report = (r: Partial<SyncReport> = {}): SyncReport => ({ received: [], failed: [], seed: 0, dry: false, ...r })

describe('swarm sync (parents protocol)', () => {
  it('grants each first copy to one peer at a time; a held piece is never granted again', () => {
    const swarm = seeded()
    swarm.register('a', { address: 'http://a' }, 0)
    swarm.register('b', { address: 'http://b' }, 0)
    const a = swarm.sync('a', report({ seed: 3 }), 0).seed
    const b = swarm.sync('b', report({ seed: 3 }), 0).seed
    expect(a).toEqual([0, 1, 2])
    expect(b).toEqual([3, 4, 5])
    // a holds 0-2 now: nobody gets them from the supernode again; the rest go out once.
    swarm.sync('a', report({ have: holding([0, 1, 2]) }), 1)
    expect(swarm.sync('b', report({ seed: 8 }), 2).seed).toEqual([6, 7])
    expect(swarm.sync('a', report({ seed: 8 }), 3).seed).toEqual([])
  })

  it('grants a lapsed first copy again, and the ones of a peer that left at once', () => {
    const swarm = seeded({ pieceTimeoutMs: 1_000 })
    swarm.register('a', { address: 'http://a' }, 0)
    swarm.register('b', { address: 'http://b' }, 0)
    expect(swarm.sync('a', report({ seed: 2 }), 0).seed).toEqual([0, 1])
    expect(swarm.sync('b', report({ seed: 2 }), 10).seed).toEqual([2, 3])
    expect(swarm.sync('b', report({ seed: 2 }), 1_001).seed).toEqual([0, 1])
    swarm.register('c', { address: 'http://c' }, 1_002)
    swarm.leave('b')
    expect(swarm.sync('c', report({ seed: 4 }), 1_003).seed).toEqual([0, 1, 2, 3])
  })

  it('names holders of what the peer lacks as parents, never the peer itself, and drops a failing one', () => {
    const swarm = seeded()
    swarm.register('full', { address: 'http://full', have: holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64() }, 0)
    swarm.register('empty', { address: 'http://empty' }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    const first = swarm.sync('me', report(), 0)
    expect(first.parents.map((p) => p.id)).toEqual(expect.arrayContaining(['full', 'empty']))
    expect(first.parents[0]!.id).toBe('full')
    expect(first.parents.some((p) => p.id === 'me')).toBe(false)
    expect(first.useful).toBe(true)
    expect(swarm.peer('full').children).toBe(1)
    const after = swarm.sync('me', report({ failed: [{ from: 'full', error: 'timeout' }] }), 1)
    expect(after.parents.map((p) => p.id)).toEqual(['empty'])
    expect(swarm.peer('full').children).toBe(0)
  })

  it('a parent that holds nothing the peer lacks gives way to a holder, busy or dry; with no holder it stays unless the peer is dry', () => {
    const swarm = seeded({ parentCount: 1 })
    swarm.register('empty', { address: 'http://empty' }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    expect(swarm.sync('me', report(), 0).parents.map((p) => p.id)).toEqual(['empty'])
    // Nobody holds anything: a busy peer (its first copies from the supernode running) keeps its parent.
    expect(swarm.sync('me', report(), 1).parents.map((p) => p.id)).toEqual(['empty'])
    swarm.register('full', { address: 'http://full', have: holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64() }, 1)
    // A holder appeared: the parent that can give nothing is traded even while the peer is busy.
    const busy = swarm.sync('me', report(), 2)
    expect(busy.parents.map((p) => p.id)).toEqual(['full'])
    expect(busy.useful).toBe(true)
    expect(swarm.peer('empty').children).toBe(0)
    // A parent that holds something the peer lacks is kept.
    expect(swarm.sync('me', report({ dry: true }), 3).parents.map((p) => p.id)).toEqual(['full'])
  })

  it('a digest report isolates the parent; timeouts only blacklist it for this peer', () => {
    const swarm = seeded()
    swarm.register('bad', { address: 'http://bad', have: holding([0, 1]).toBase64() }, 0)
    swarm.register('slow', { address: 'http://slow', have: holding([2, 3]).toBase64() }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    swarm.register('other', { address: 'http://other' }, 0)
    swarm.sync(
      'me',
      report({
        failed: [
          { from: 'bad', error: 'digest' },
          { from: 'slow', error: 'timeout' },
        ],
      }),
      1,
    )
    expect(swarm.peer('bad').isolated).toBe(true)
    expect(swarm.peer('slow').isolated).toBe(false)
    expect(swarm.sync('other', report(), 2).parents.map((p) => p.id)).toContain('slow')
    expect(swarm.sync('me', report(), 2).parents.map((p) => p.id)).not.toContain('slow')
  })

  it('spare copies: at once for pieces no usable holder has; after spareAfterMs with nothing to fetch, one of the rarest', () => {
    const swarm = seeded({ spareAfterMs: 2_000 })
    swarm.register('slow', { address: 'http://slow', have: holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64() }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    // Every piece is held: no first copies, and the holder is usable.
    expect(swarm.sync('me', report({ seed: 3 }), 0).seed).toEqual([])
    // The holder failed this peer: the supernode is the only source left, at once.
    expect(swarm.sync('me', report({ seed: 3, failed: [{ from: 'slow', error: 'timeout' }] }), 1).seed).toEqual([0, 1, 2])
    const swarm2 = seeded({ spareAfterMs: 2_000 })
    swarm2.register('holder', { address: 'http://holder', have: holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64() }, 0)
    swarm2.register('me', { address: 'http://me' }, 0)
    expect(swarm2.sync('me', report({ seed: 3, dry: true }), 0).seed).toEqual([])
    expect(swarm2.sync('me', report({ seed: 3, dry: true }), 1_999).seed).toEqual([])
    expect(swarm2.sync('me', report({ seed: 3, dry: true }), 2_000).seed).toHaveLength(1)
    // The clock restarts: the next spare is another spareAfterMs away.
    expect(swarm2.sync('me', report({ seed: 3, dry: true }), 2_100).seed).toEqual([])
  })

  it('counts reported bytes for the source and the receiver (also from a source that left), and no piece without a digest', () => {
    const swarm = new Swarm('t'.repeat(64), createPieceLayout(PIECES * 262144, 262144))
    swarm.seedPiece(0, 'd0')
    swarm.register('a', { address: 'http://a' }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    const received = [
      { from: SUPERNODE_ID, pieces: 1, bytes: 262144 },
      { from: 'a', pieces: 2, bytes: 524288 },
      { from: 'nobody', pieces: 1, bytes: 1 },
    ]
    swarm.sync('me', report({ have: holding([0, 5]), received }), 1)
    expect(swarm.seed.bytesUploaded).toBe(262144)
    expect(swarm.peer('a').bytesUploaded).toBe(524288)
    expect(swarm.peer('me').bytesDownloaded).toBe(786433)
    expect([...Array(PIECES).keys()].filter((n) => swarm.peer('me').have.has(n))).toEqual([0])
  })

  it("keeps the task's bytes from peers when the peers that served and received them leave (status per task)", () => {
    const swarm = seeded()
    swarm.register('a', { address: 'http://a', have: holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64() }, 0)
    swarm.register('me', { address: 'http://me' }, 0)
    expect(swarm.bytesFromPeers).toBe(0)
    swarm.sync('me', report({ received: [{ from: SUPERNODE_ID, pieces: 1, bytes: 100 }] }), 1)
    expect(swarm.bytesFromPeers).toBe(0) // control: the supernode's bytes are not peers' bytes
    swarm.sync('me', report({ received: [{ from: 'a', pieces: 2, bytes: 524288 }] }), 2)
    swarm.leave('a')
    swarm.sync('me', report({ received: [{ from: 'a', pieces: 1, bytes: 262144 }] }), 3)
    swarm.leave('me')
    expect(swarm.peers.size).toBe(0)
    expect(swarm.bytesFromPeers).toBe(786432)
    expect(swarm.seed.bytesUploaded).toBe(100)
  })

  it("counts the peers still downloading: not the ones holding everything, nor other supernodes' peers", () => {
    const swarm = seeded()
    swarm.register('seeder', { address: 'http://s', have: holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64() }, 0)
    swarm.register('a', { address: 'http://a' }, 0)
    swarm.register('b', { address: 'http://b', have: holding([0]).toBase64() }, 0)
    swarm.syncRemote([{ id: 'far', address: 'http://far', slots: 4, have: holding([]), via: 'other' }], 0)
    expect(swarm.downloading()).toBe(2)
    swarm.isolate(swarm.peer('b'))
    expect(swarm.downloading()).toBe(2) // the first-copy split still counts an isolated peer
    expect(swarm.downloading({ isolated: false })).toBe(1) // people see it apart, and a fake one never finishes
    swarm.sync('a', report({ have: holding([0, 1, 2, 3, 4, 5, 6, 7]) }), 1)
    expect(swarm.downloading()).toBe(1)
    expect(swarm.downloading({ isolated: false })).toBe(0)
    swarm.leave('b')
    expect(swarm.downloading()).toBe(0)
  })

  it('splits the first-copy flows among the peers downloading, rounded, at least one each; a lone peer gets them all', () => {
    const swarm = seeded()
    swarm.register('a', { address: 'http://a' }, 0)
    expect(swarm.sync('a', report(), 0).seedSlots).toBe(10)
    const slotsAt = (peers: number): number => {
      for (let i = swarm.peers.size; i < peers; i++) swarm.register(`p${i}`, { address: `http://p${i}` }, 0)
      return swarm.sync('a', report(), 0).seedSlots
    }
    // 10 flows: 2 each for 6 peers (12 in all), 1 each for 8 (not 2: 16 in flight made a long tail), never 0.
    expect([slotsAt(4), slotsAt(6), slotsAt(8), slotsAt(32)]).toEqual([3, 2, 1, 1])
  })
  it('a parent with more children than a child has parents gives way, one per sync, to a holder with fewer', () => {
    const swarm = seeded({ parentCount: 2 })
    const all = holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64()
    swarm.register('h1', { address: 'http://h1', have: all }, 0)
    swarm.register('h2', { address: 'http://h2', have: all }, 0)
    const kids = ['k0', 'k1', 'k2', 'k3']
    for (const k of kids) swarm.register(k, { address: `http://${k}` }, 0)
    const parentsOf = (k: string, now: number) => swarm.sync(k, report(), now).parents.map((p) => p.id)
    for (const k of kids) expect(parentsOf(k, 1).sort()).toEqual(['h1', 'h2'])
    const children = () => ['h1', 'h2', 'h3'].map((id) => swarm.peers.get(id)?.children ?? 0)
    expect(children().slice(0, 2)).toEqual([4, 4])
    // A third holder joins: each child's next sync trades one of its busiest parents for it, while it has fewer than 2.
    swarm.register('h3', { address: 'http://h3', have: all }, 2)
    const first = parentsOf('k0', 3)
    expect(first).toHaveLength(2)
    expect(first).toContain('h3')
    expect(children()).toEqual(first.includes('h1') ? [4, 3, 1] : [3, 4, 1])
    for (let round = 0; round < 3; round++) for (const k of kids) swarm.sync(k, report(), 4 + round)
    // 8 links over 3 holders: none above a child's 2 parents while another has room; then nothing moves.
    expect(children().sort()).toEqual([2, 3, 3])
    const settled = kids.map((k) => swarm.peer(k).parents.join())
    for (const k of kids) swarm.sync(k, report(), 10)
    expect(kids.map((k) => swarm.peer(k).parents.join())).toEqual(settled)
  })

  it('a holder swapped in for a busy parent is named once, also when the child is short of parents', () => {
    const swarm = seeded({ parentCount: 3 })
    const all = holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64()
    swarm.register('h1', { address: 'http://h1', have: all }, 0)
    const kids = ['k0', 'k1', 'k2', 'k3']
    for (const k of kids) swarm.register(k, { address: `http://${k}` }, 0)
    for (const k of kids) swarm.sync(k, report(), 1)
    expect(swarm.peer('h1').children).toBe(4)
    // k0 keeps h1 (busy) and one idle parent of its two; h2 takes h1's place, and the free place is filled from
    // the other peers, not with h2 a second time.
    swarm.register('h2', { address: 'http://h2', have: all }, 2)
    const ids = swarm.sync('k0', report(), 3).parents.map((p) => p.id)
    expect(ids).toContain('h2')
    expect(new Set(ids).size).toBe(ids.length)
    expect(swarm.peer('h2').children).toBe(1)
  })

  it("a busy parent in the child's rack is not traded for a less busy one farther away, until it is full", () => {
    const swarm = seeded({ parentCount: 2 })
    const all = holding([0, 1, 2, 3, 4, 5, 6, 7]).toBase64()
    const parentsOf = (k: string, now: number) =>
      swarm
        .sync(k, report(), now)
        .parents.map((p) => p.id)
        .sort()
    for (const id of ['rack', 'rack2']) swarm.register(id, { address: `http://${id}`, have: all, location: 'r1|z1|k1' }, 0)
    for (const k of ['k0', 'k1', 'k2']) {
      swarm.register(k, { address: `http://${k}`, location: 'r1|z1|k1' }, 0)
      expect(parentsOf(k, 1)).toEqual(['rack', 'rack2'])
    }
    // 3 children each, more than a child's 2 parents: a holder in another region does not take the child.
    swarm.register('far', { address: 'http://far', have: all, location: 'r2|z1|k1' }, 2)
    expect(parentsOf('k0', 3)).toEqual(['rack', 'rack2'])
    // A holder as near does.
    swarm.register('same', { address: 'http://same', have: all, location: 'r1|z1|k1' }, 4)
    expect(parentsOf('k0', 5)).toContain('same')
    // A parent with 2 x 2 children gives way to the far holder all the same.
    for (const k of ['k3', 'k4']) {
      swarm.register(k, { address: `http://${k}`, location: 'r1|z1|k1' }, 6)
      parentsOf(k, 7)
    }
    const full = ['rack', 'rack2'].find((id) => swarm.peer(id).children >= 4)
    expect(full).toBeDefined()
    const child = ['k1', 'k2'].find((k) => swarm.peer(k).parents.includes(full!))!
    expect(parentsOf(child, 8)).toContain('far')
  })

  it('spreads children over the swarm when nobody holds a piece yet, instead of naming the same first peers to all', () => {
    const swarm = seeded({ parentCount: 4 })
    for (let i = 0; i < 60; i++) swarm.register(`p${i}`, { address: `http://p${i}` }, 0)
    for (let i = 0; i < 60; i++) swarm.sync(`p${i}`, report(), 1)
    const children = [...swarm.peers.values()].map((p) => p.children)
    // 60 children x 4 parents = 240 links over 60 peers: 4 each when spread evenly.
    expect(Math.max(...children)).toBeLessThanOrEqual(8)
    expect(children.filter((n) => n > 0).length).toBeGreaterThanOrEqual(50)
  })
  it('tells each peer when to sync next: every 2 s in a small swarm, longer as it grows, within 20 s', () => {
    const swarm = seeded({ syncsPerSecond: 4 })
    swarm.register('a', { address: 'http://a' }, 0)
    expect(swarm.sync('a', report(), 0).syncAfterMs).toBe(2_000)
    for (let i = 0; i < 19; i++) swarm.register(`p${i}`, { address: `http://p${i}` }, 0)
    // 20 downloading peers sharing 4 syncs a second: each every 5 s.
    expect(swarm.sync('a', report(), 1).syncAfterMs).toBe(5_000)
    for (let i = 0; i < 200; i++) swarm.register(`q${i}`, { address: `http://q${i}` }, 0)
    expect(swarm.sync('a', report(), 2).syncAfterMs).toBe(20_000)
  })
})
