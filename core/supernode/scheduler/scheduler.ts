import type { Bitset } from '../../protocol/bitset.ts'

/**
 * The scheduler: pure, no I/O, no clock. Given a read-only view of one task's
 * swarm and one requester, it picks up to `want` pieces and who serves each.
 *
 * Rules, each stated by a unit test:
 * - rarest first (fewest holders), ties spread across requesters;
 * - a peer that has the piece is preferred over the supernode;
 *   among peers: same location prefix first, then the least loaded;
 * - a source never gets more concurrent uploads than its slots;
 * - never a source the requester reported as failing, never an isolated one;
 * - the supernode serves pieces no peer has and nobody is fetching yet, and
 *   keeps a requester busy when every holder is saturated (seed of last
 *   resort) unless `seedSpare` says its uplink is needed for first copies;
 *   a piece on its way to a peer is waited for, not fetched twice;
 * - end-game: when everything missing is already in flight, duplicate the
 *   last pieces from another source.
 *
 * Cost per call: O(pieces * K + K * candidates) with K = 4 * want, small;
 * with a holder index (`holdersOf`) the candidates of a piece are at most
 * HOLDER_SCAN of its holders, so the cost does not grow with the swarm.
 */

export interface SourceView {
  id: string
  have: Bitset
  /** Uploads in flight from this source right now. */
  uploading: number
  slots: number
  /** `region|zone|rack`. */
  location?: string
  isolated?: boolean
}

export interface RequesterView {
  id: string
  have: Bitset
  location?: string
  /** piece → sources already fetching it for this requester. */
  inflight: ReadonlyMap<number, readonly string[]>
  /** Sources this requester reported as failing (not to be used now). */
  blacklist: { has(id: string): boolean }
}

export interface ScheduleInput {
  pieceCount: number
  /** Holder count per piece among live, non-isolated peers (not counting the supernode). */
  holders: ArrayLike<number>
  /**
   * Pieces on their way to some peer (holders-to-be) that are worth waiting
   * for; the swarm stops reporting a transfer here once it runs long, so a
   * requester that died mid-transfer cannot hold a piece back.
   */
  pending?: (piece: number) => number
  peers: Iterable<SourceView>
  supernode: SourceView | null
  requester: RequesterView
  want: number
  /** Keep the requester at least this busy with supernode pieces when peers are saturated. */
  minInflight?: number
  /** End-game starts when this many pieces or fewer are missing. */
  endgameThreshold?: number
  /**
   * Whether the supernode may also serve pieces that peers hold (seed of last
   * resort, end-game copies). False keeps its uplink for pieces no peer has.
   * @default true
   */
  seedSpare?: boolean
  /**
   * Per-piece holder lists: exactly the peers holding each piece (the
   * scheduler does not check their bitsets again). When given, a
   * source for a piece is looked for among its holders, at most HOLDER_SCAN
   * of them from an offset that differs per requester and piece, and `peers`
   * is not read.
   */
  holdersOf?: (piece: number) => readonly SourceView[]
}

/**
 * Holders of one piece examined per choice when a holder index is given. In
 * a small swarm that is every holder (the exact rule); in a large one a
 * sample, from which the closest and least loaded holder with a free slot
 * wins. 128 holders over 48 racks hold about 2.7 of the requester's rack.
 */
export const HOLDER_SCAN = 128

export interface Assignment {
  piece: number
  from: string
  endgame?: boolean
}

export function schedule(input: ScheduleInput): Assignment[] {
  const { pieceCount, holders, requester, supernode } = input
  const pending = input.pending ?? noPending
  const want = Math.max(0, Math.floor(input.want))
  if (want === 0 || pieceCount === 0) return []

  const usable = (s: SourceView): boolean => s.id !== requester.id && !s.isolated && !requester.blacklist.has(s.id) && s.uploading < s.slots
  const holdersOf = input.holdersOf
  const candidates = holdersOf ? indexedHolders(holdersOf, usable, requester, want * HOLDER_SCAN) : scannedHolders(input.peers, usable, requester.location)
  const seed: Candidate | null = supernode && usable(supernode) ? { view: supernode, load: supernode.uploading, locality: 0 } : null

  const picks = rarestMissing(input, want * 4)
  const out: Assignment[] = []
  const deferred: number[] = []
  for (const piece of picks) {
    if (out.length >= want) break
    const peer = candidates.best(piece, [])
    if (peer) {
      take(peer, piece, out)
    } else if ((holders[piece] ?? 0) === 0 && pending(piece) === 0 && seed && hasRoom(seed) && seed.view.have.has(piece)) {
      take(seed, piece, out)
    } else if ((holders[piece] ?? 0) > 0) {
      deferred.push(piece)
    }
  }

  const minInflight = input.minInflight ?? 2
  for (const piece of input.seedSpare === false ? [] : deferred) {
    if (out.length >= want || requester.inflight.size + out.length >= minInflight) break
    if (seed && hasRoom(seed) && seed.view.have.has(piece)) take(seed, piece, out)
  }

  if (out.length === 0) endgame(input, candidates, seed, want, out)
  return out
}

interface Candidate {
  view: SourceView
  load: number
  /** Shared location depth with the requester; -1 until first needed. */
  locality: number
}

function hasRoom(c: Candidate): boolean {
  return c.load < c.view.slots
}

function take(c: Candidate, piece: number, out: Assignment[], endgame = false): void {
  c.load++
  out.push(endgame ? { piece, from: c.view.id, endgame } : { piece, from: c.view.id })
}

/** Finds the best holder of a piece: closest location, then lowest relative load, with a free slot. */
interface HolderSearch {
  best(piece: number, exclude: readonly string[]): Candidate | null
}

function better(c: Candidate, best: Candidate | null): boolean {
  return !best || c.locality > best.locality || (c.locality === best.locality && c.load / c.view.slots < best.load / best.view.slots)
}

/** Every usable peer is a candidate for every piece: O(peers) per choice. */
function scannedHolders(peers: Iterable<SourceView>, usable: (s: SourceView) => boolean, location: string | undefined): HolderSearch {
  const candidates: Candidate[] = []
  for (const peer of peers) {
    // A peer holding nothing can never be picked; skipping it keeps the choice and saves the work.
    if (peer.have.count > 0 && usable(peer)) candidates.push({ view: peer, load: peer.uploading, locality: -1 })
  }
  return {
    best(piece, exclude) {
      let best: Candidate | null = null
      for (const c of candidates) {
        if (!hasRoom(c) || !c.view.have.has(piece) || exclude.includes(c.view.id)) continue
        if (c.locality < 0) c.locality = localityScore(location, c.view.location)
        if (better(c, best)) best = c
      }
      return best
    },
  }
}

/**
 * Candidates come from the piece's holder list: at most HOLDER_SCAN per
 * choice and `budget` per call, so a call in a swarm where most holders are
 * saturated stops looking and leaves the rest to the supernode rules.
 */
function indexedHolders(
  holdersOf: (piece: number) => readonly SourceView[],
  usable: (s: SourceView) => boolean,
  requester: RequesterView,
  budget: number,
): HolderSearch {
  // Holders chosen in this call, carrying the loads this call added. Few (<= 2·want), so a list.
  const chosen: Candidate[] = []
  const loadOf = (view: SourceView): number => chosen.find((c) => c.view === view)?.load ?? view.uploading
  // Scores per distinct location: a handful of strings, compared once each.
  const scores = new Map<string | undefined, number>()
  const scoreOf = (location: string | undefined): number => {
    let score = scores.get(location)
    if (score === undefined) scores.set(location, (score = localityScore(requester.location, location)))
    return score
  }
  const offset = hashOffset(requester.id, 0x40000000)
  const closest = requester.location ? requester.location.split('|').length : 0
  return {
    best(piece, exclude) {
      const list = holdersOf(piece)
      const n = list.length
      let i = n === 0 ? 0 : ((offset + Math.imul(piece, 0x9e3779b1)) >>> 0) % n
      let best: SourceView | null = null
      let bestScore = -1
      let bestLoad = 1
      const scan = Math.min(n, HOLDER_SCAN, budget)
      let k = scan
      for (; k > 0; k--, i = i + 1 === n ? 0 : i + 1) {
        const view = list[i]!
        // Most holders of a big swarm are saturated: skip them before anything else.
        if (view.uploading >= view.slots) continue
        const load = (chosen.length === 0 ? view.uploading : loadOf(view)) / view.slots
        // Listed means holding the piece: no bitset read (each is a cache miss at this scale).
        if (load >= 1 || !usable(view) || exclude.includes(view.id)) continue
        const score = scoreOf(view.location)
        if (score > bestScore || (score === bestScore && load < bestLoad)) {
          best = view
          bestScore = score
          bestLoad = load
        }
        // Nothing beats an idle holder in the requester's own rack.
        if (score >= closest && load === 0) break
      }
      budget -= scan - k
      if (!best) return null
      const view = best
      const known = chosen.find((c) => c.view === view)
      if (known) return known
      const c: Candidate = { view, load: view.uploading, locality: bestScore }
      chosen.push(c)
      return c
    },
  }
}

/**
 * Up to `limit` missing, not-in-flight, available pieces, fewest holders first.
 * The scan starts at an offset derived from the requester id, so requesters
 * that see equal rarity pick different pieces.
 */
function rarestMissing(input: ScheduleInput, limit: number): number[] {
  const { pieceCount, holders, requester, supernode } = input
  const pending = input.pending ?? noPending
  const start = hashOffset(requester.id, pieceCount)
  const picked: number[] = []
  const rank: number[] = []
  for (let k = 0; k < pieceCount; k++) {
    const piece = (start + k) % pieceCount
    if (requester.have.has(piece) || requester.inflight.has(piece)) continue
    const held = holders[piece] ?? 0
    if (held === 0 && !(supernode && !supernode.isolated && supernode.have.has(piece))) continue
    const count = held + pending(piece)
    if (picked.length === limit && count >= rank[limit - 1]!) continue
    let at = picked.length === limit ? limit - 1 : picked.length
    while (at > 0 && rank[at - 1]! > count) {
      picked[at] = picked[at - 1]!
      rank[at] = rank[at - 1]!
      at--
    }
    picked[at] = piece
    rank[at] = count
  }
  return picked
}

function endgame(input: ScheduleInput, candidates: HolderSearch, seed: Candidate | null, want: number, out: Assignment[]): void {
  const { requester, pieceCount } = input
  const missing = pieceCount - requester.have.count
  if (requester.inflight.size === 0 || missing > (input.endgameThreshold ?? Math.max(4, want))) return
  for (const [piece, sources] of requester.inflight) {
    if (out.length >= want || sources.length >= 2) continue
    const peer = candidates.best(piece, sources)
    if (peer) take(peer, piece, out, true)
    else if (input.seedSpare !== false && seed && hasRoom(seed) && seed.view.have.has(piece) && !sources.includes(seed.view.id)) take(seed, piece, out, true)
  }
}

/** Shared prefix length of `region|zone|rack` locations. */
export function localityScore(a: string | undefined, b: string | undefined): number {
  if (!a || !b) return 0
  // Walks both strings in place: this runs per candidate per pull, where split() allocations dominated the profile.
  let n = 0
  let i = 0
  for (;;) {
    let j = i
    while (j < a.length && j < b.length && a.charCodeAt(j) === b.charCodeAt(j) && a.charCodeAt(j) !== PIPE) j++
    const endA = j === a.length || a.charCodeAt(j) === PIPE
    const endB = j === b.length || b.charCodeAt(j) === PIPE
    if (!endA || !endB) return n
    n++
    if (j === a.length || j === b.length) return n
    i = j + 1
  }
}

const noPending = (): number => 0
const PIPE = 0x7c

function hashOffset(id: string, modulo: number): number {
  let h = 2166136261
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619)
  return (h >>> 0) % modulo
}
