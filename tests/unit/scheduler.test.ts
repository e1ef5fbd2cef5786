import { beforeEach, describe, expect, it } from 'vitest'
import { SUPERNODE_ID } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { HOLDER_SCAN, type RequesterView, type ScheduleInput, type SourceView, schedule } from '../../core/supernode/scheduler/scheduler.ts'

const bits = (size: number, pieces: number[]): Bitset => {
  const b = new Bitset(size)
  for (const p of pieces) b.set(p)
  return b
}
const peer = (id: string, size: number, pieces: number[], extra: Partial<SourceView> = {}): SourceView => ({
  id,
  have: bits(size, pieces),
  uploading: 0,
  slots: 4,
  ...extra,
})
const requester = (size: number, extra: Partial<RequesterView> = {}): RequesterView => ({
  id: 'me',
  have: new Bitset(size),
  inflight: new Map(),
  blacklist: new Set(),
  ...extra,
})

/** Per-piece holder lists as the swarm keeps them (isolated peers included here, so the scheduler's own check is tested). */
function holderLists(pieceCount: number, peers: SourceView[]): SourceView[][] {
  const lists = Array.from({ length: pieceCount }, (): SourceView[] => [])
  for (const p of peers) for (let i = 0; i < pieceCount; i++) if (p.have.has(i)) lists[i]!.push(p)
  return lists
}

const notRead: Iterable<SourceView> = {
  [Symbol.iterator]() {
    throw new Error('peers must not be read when a holder index is given')
  },
}

type Mode = 'every peer scanned' | 'holder index'
let mode: Mode = 'every peer scanned'

function input(pieceCount: number, peers: SourceView[], extra: Partial<ScheduleInput> = {}): ScheduleInput {
  const holders = new Int32Array(pieceCount)
  for (const p of peers) if (!p.isolated) for (let i = 0; i < pieceCount; i++) if (p.have.has(i)) holders[i]!++
  const base: ScheduleInput = { pieceCount, holders, peers, supernode: null, requester: requester(pieceCount), want: 1 }
  if (mode === 'holder index') {
    const lists = holderLists(pieceCount, peers)
    Object.assign(base, { peers: notRead, holdersOf: (n: number) => lists[n] ?? [] })
  }
  return { ...base, ...extra }
}

describe.each<Mode>(['every peer scanned', 'holder index'])('scheduler (%s)', (m) => {
  beforeEach(() => {
    mode = m
  })

  it('assigns the rarest pieces first', () => {
    const peers = [peer('a', 3, [0, 1, 2], { slots: 9 }), peer('b', 3, [0, 2]), peer('c', 3, [0])]
    expect(schedule(input(3, peers)).map((a) => a.piece)).toEqual([1])
    expect(schedule(input(3, peers, { want: 3 })).map((a) => a.piece)).toEqual([1, 2, 0])
  })

  it('prefers a peer that has the piece over the supernode', () => {
    const supernode = peer(SUPERNODE_ID, 1, [0], { slots: 100 })
    expect(schedule(input(1, [peer('a', 1, [0])], { supernode }))).toEqual([{ piece: 0, from: 'a' }])
  })

  it('lets the supernode seed pieces no peer has', () => {
    const supernode = peer(SUPERNODE_ID, 2, [0, 1], { slots: 100 })
    expect(schedule(input(2, [peer('a', 2, [0])], { supernode, want: 2 }))).toEqual([
      { piece: 1, from: SUPERNODE_ID },
      { piece: 0, from: 'a' },
    ])
  })

  it('respects upload slots, falling back to the supernode only to keep an idle requester busy', () => {
    const busy = peer('a', 1, [0], { slots: 1, uploading: 1 })
    const supernode = peer(SUPERNODE_ID, 1, [0], { slots: 100 })
    expect(schedule(input(1, [busy], { supernode }))).toEqual([{ piece: 0, from: SUPERNODE_ID }])
    expect(schedule(input(1, [busy], { supernode, minInflight: 0 }))).toEqual([])
    expect(schedule(input(1, [busy]))).toEqual([])
    const full = peer(SUPERNODE_ID, 1, [0], { slots: 2, uploading: 2 })
    expect(schedule(input(1, [busy], { supernode: full }))).toEqual([])
  })

  it('spreads load over the holders', () => {
    const a = peer('a', 2, [0, 1], { uploading: 2 })
    const b = peer('b', 2, [0, 1])
    expect(schedule(input(2, [a, b])).map((x) => x.from)).toEqual(['b'])
    const c = peer('c', 2, [0, 1], { slots: 1 })
    const d = peer('d', 2, [0, 1], { slots: 1 })
    expect(new Set(schedule(input(2, [c, d], { want: 2 })).map((x) => x.from))).toEqual(new Set(['c', 'd']))
  })

  it('never assigns from a source the requester reported as failing, nor from an isolated peer', () => {
    const peers = [peer('a', 1, [0]), peer('b', 1, [0], { isolated: true })]
    const supernode = peer(SUPERNODE_ID, 1, [0], { slots: 100 })
    const me = requester(1, { blacklist: new Set(['a']) })
    expect(schedule(input(1, peers, { requester: me, supernode }))).toEqual([{ piece: 0, from: SUPERNODE_ID }])
    expect(schedule(input(1, peers, { requester: requester(1, { blacklist: new Set(['a', SUPERNODE_ID]) }), supernode }))).toEqual([])
  })

  it('prefers peers that share the longest location prefix', () => {
    const far = peer('far', 1, [0], { location: 'r2|z1|k1' })
    const zone = peer('zone', 1, [0], { location: 'r1|z2|k1' })
    const rack = peer('rack', 1, [0], { location: 'r1|z1|k1' })
    const me = requester(1, { location: 'r1|z1|k9' })
    expect(schedule(input(1, [far, zone, rack], { requester: me }))[0]!.from).toBe('rack')
    expect(schedule(input(1, [far, zone], { requester: me }))[0]!.from).toBe('zone')
  })

  it('waits for a piece already on its way to a peer instead of taking it from the supernode again', () => {
    const supernode = peer(SUPERNODE_ID, 1, [0], { slots: 100 })
    expect(schedule(input(1, [], { supernode, pending: () => 1 }))).toEqual([])
    expect(schedule(input(1, [], { supernode, pending: () => 0 }))).toEqual([{ piece: 0, from: SUPERNODE_ID }])
  })

  it('skips pieces the requester has or is fetching, and pieces nobody has', () => {
    const me = requester(3, { have: bits(3, [0]), inflight: new Map([[1, ['x']]]) })
    expect(schedule(input(3, [peer('a', 3, [0, 1])], { requester: me, want: 3, endgameThreshold: 0 }))).toEqual([])
  })

  it('keeps a supernode without spare uplink for first copies: no last-resort or end-game copies of held pieces', () => {
    const busy = peer('a', 2, [0], { slots: 1, uploading: 1 })
    const supernode = peer(SUPERNODE_ID, 2, [0, 1], { slots: 100, uploading: 1 })
    // Piece 1 (no peer has it) still comes from the supernode; piece 0 waits for its saturated holder.
    expect(schedule(input(2, [busy], { supernode, want: 2, seedSpare: false }))).toEqual([{ piece: 1, from: SUPERNODE_ID }])
    expect(schedule(input(2, [busy], { supernode, want: 2 }))).toEqual([
      { piece: 1, from: SUPERNODE_ID },
      { piece: 0, from: SUPERNODE_ID },
    ])
    const me = requester(2, { have: bits(2, [1]), inflight: new Map([[0, ['a']]]) })
    expect(schedule(input(2, [peer('a', 2, [0, 1])], { supernode, requester: me, seedSpare: false }))).toEqual([])
    expect(schedule(input(2, [peer('a', 2, [0, 1])], { supernode, requester: me }))).toEqual([{ piece: 0, from: SUPERNODE_ID, endgame: true }])
  })

  it('end-game: duplicates the last in-flight pieces from another source', () => {
    const me = requester(2, { have: bits(2, [1]), inflight: new Map([[0, ['a']]]) })
    const out = schedule(input(2, [peer('a', 2, [0, 1]), peer('b', 2, [0, 1])], { requester: me }))
    expect(out).toEqual([{ piece: 0, from: 'b', endgame: true }])
  })

  it('gives equal-rarity requesters different pieces', () => {
    const supernode = peer(
      SUPERNODE_ID,
      64,
      Array.from({ length: 64 }, (_, i) => i),
      { slots: 100 },
    )
    const picks = ['p1', 'p2', 'p3', 'p4'].map((id) => schedule(input(64, [], { supernode, requester: { ...requester(64), id } }))[0]!.piece)
    expect(new Set(picks).size).toBeGreaterThan(1)
  })
})

describe('scheduler with a holder index, in a large swarm', () => {
  const N = 10_000
  /** N peers holding every piece; counts how many holder-list entries the scheduler reads. */
  function crowd(pieces: number, extra: (i: number) => Partial<SourceView> = () => ({})) {
    const looks = { n: 0 }
    const have = bits(
      pieces,
      Array.from({ length: pieces }, (_, i) => i),
    )
    const peers = Array.from({ length: N }, (_, i) => peer(`p${i}`, pieces, [], { have, location: `r${i % 2}|z${i % 3}|k${i % 8}`, ...extra(i) }))
    const counting = new Proxy(peers, {
      get: (target, key, receiver) => {
        if (typeof key === 'string' && /^\d+$/.test(key)) looks.n++
        return Reflect.get(target, key, receiver)
      },
    })
    const holders = new Int32Array(pieces).fill(N)
    const input = (extra: Partial<ScheduleInput> = {}): ScheduleInput => ({
      pieceCount: pieces,
      holders,
      peers: notRead,
      holdersOf: () => counting,
      supernode: null,
      requester: requester(pieces),
      want: 8,
      ...extra,
    })
    return { looks, input }
  }

  it('reads at most HOLDER_SCAN holders per piece and want·HOLDER_SCAN per call, however many there are', () => {
    // Every holder saturated: the candidate pieces are tried until the call's budget is spent.
    const saturated = crowd(64, () => ({ uploading: 4 }))
    expect(schedule(saturated.input())).toEqual([])
    expect(saturated.looks.n).toBe(8 * HOLDER_SCAN)
    const one = crowd(64, () => ({ uploading: 4 }))
    expect(schedule(one.input({ want: 1 }))).toEqual([])
    expect(one.looks.n).toBe(HOLDER_SCAN)
    const idle = crowd(64)
    expect(schedule(idle.input())).toHaveLength(8)
    expect(idle.looks.n).toBeLessThanOrEqual(8 * HOLDER_SCAN)
  })

  it("still prefers the requester's rack, and idle holders", () => {
    const { input } = crowd(16, (i) => ({ uploading: i % 5 === 0 ? 0 : 2 }))
    const me = { ...requester(16), location: 'r1|z1|k3' }
    for (const a of schedule(input({ requester: me }))) {
      const i = Number(a.from.slice(1))
      expect(`r${i % 2}|z${i % 3}|k${i % 8}`).toBe('r1|z1|k3')
      expect(i % 5).toBe(0)
    }
  })

  it('spreads requesters with equal views over different holders', () => {
    const { input } = crowd(4)
    const sources = new Set(['a', 'b', 'c', 'd', 'e', 'f'].map((id) => schedule(input({ requester: { ...requester(4), id }, want: 1 }))[0]!.from))
    expect(sources.size).toBeGreaterThan(3)
  })
})
