import type { Bitset } from '../../protocol/bitset.ts'
import { localityScore } from './scheduler.ts'

/**
 * Parent choice in the parents protocol: the peers a downloading peer
 * fetches from directly. Pure, no I/O, no clock.
 *
 * Rules, each stated by a unit test:
 * - a parent stays a parent while it is live, counted, not failing the child
 *   and holds a piece the child lacks; one that holds nothing it lacks gives
 *   way to a holder of its rarest missing pieces when there is one (a dry
 *   child drops it regardless);
 * - the busiest parent, when it has more children than a child has parents,
 *   gives way to a holder with fewer that is no farther (or any, once it has
 *   CHILD_LIMIT × count), one per sync;
 * - new parents first come from the holders of pieces the child lacks
 *   (rarest first), then from any live peer (early in a download nobody holds
 *   anything yet, and the first copies arrive at exactly those peers);
 * - among candidates: those with fewer than CHILD_LIMIT × count children first,
 *   then holders, then same location prefix, then the fewest children.
 *
 * Cost per call: O(parents + HOLDER_SAMPLE × HOLDERS_PER_PIECE + PEER_SAMPLE), whatever the swarm size.
 */

export interface ParentCandidate {
  id: string
  have: Bitset
  location?: string
  /** Children that have this peer as a parent now. */
  children: number
}

export interface ParentChoiceInput<P extends ParentCandidate> {
  requester: { id: string; have: Bitset; location?: string; blacklist: { has(id: string): boolean } }
  /** The requester's parents now. */
  current: readonly P[]
  /** How many parents a child has. */
  count: number
  /** Whether a peer may serve (live, not isolated, reachable). */
  usable: (peer: P) => boolean
  /** The child has nothing to fetch from its parents. */
  dry: boolean
  /** Holders of a piece (the swarm's holder index). */
  holdersOf: (piece: number) => readonly P[]
  /** Holder count per piece. */
  holders: ArrayLike<number>
  /** Peers to consider besides holders (a window that moves between calls); read at most PEER_SAMPLE of them. */
  peers: Iterable<P>
}

/** Missing pieces looked at for holders per choice. */
export const HOLDER_SAMPLE = 64
/** Live peers looked at when holders of missing pieces are not enough. */
export const PEER_SAMPLE = 64
/** Holders looked at per sampled piece, and candidates from holders in all. */
export const HOLDERS_PER_PIECE = 8
const POOL_LIMIT = 128
/** Children a parent takes, in multiples of the parents a child has, before others are preferred. */
const CHILD_LIMIT = 2

export function chooseParents<P extends ParentCandidate>(input: ParentChoiceInput<P>): P[] {
  const { requester, count } = input
  const ok = (p: P): boolean => p.id !== requester.id && !requester.blacklist.has(p.id) && input.usable(p)
  const current = input.current.filter(ok)
  const useful: P[] = []
  const idle: P[] = []
  for (const p of current) (holdsMissing(p.have, requester.have) ? useful : idle).push(p)
  // The busiest parent, when it has more children than a child has parents (the swarm's mean): a holder with
  // fewer may take its place.
  let heavy: P | undefined
  for (const p of useful) if (p.children > count && (!heavy || p.children > heavy.children)) heavy = p
  if (current.length >= count && idle.length === 0 && !heavy) return current
  // Some parent holds nothing the child lacks (as far as this supernode knows). Holders of its rarest missing
  // pieces take their places: a child whose fetches from the supernode keep it busy is never dry, and kept
  // its first parents while other peers held what it needed (bench:sim, 32 peers on 20 Mbit/s links).
  const taken = new Set(current.map((p) => p.id))
  const pool: P[] = []
  const consider = (p: P): void => {
    if (!taken.has(p.id) && ok(p)) {
      taken.add(p.id)
      pool.push(p)
    }
  }
  // A few holders per piece, from an offset that differs per requester and piece: a piece half the swarm
  // holds has thousands (all of them cost 7.7 ms per sync at 10,000 peers).
  for (const piece of rarestMissing(requester.have, input.holders, HOLDER_SAMPLE)) {
    if (pool.length >= POOL_LIMIT) break
    const holders = input.holdersOf(piece)
    const start = holders.length > HOLDERS_PER_PIECE ? spread(requester.id, piece) % holders.length : 0
    for (let k = 0; k < holders.length && k < HOLDERS_PER_PIECE; k++) consider(holders[(start + k) % holders.length]!)
  }
  const byHolders = pool.length
  // A dry child drops every parent that holds nothing it lacks; any other keeps them while no holder can take their place.
  const keepIdle = input.dry ? 0 : Math.max(0, count - useful.length - byHolders)
  const kept = [...useful, ...idle.slice(0, keepIdle)]
  let light: P | undefined
  if (heavy) {
    // One swap per sync, and only for a holder below the mean: the uplinks even out without children trading
    // parents back and forth. Without it the first holders kept 14-16 children each while others had 0-3,
    // and the children of the busiest finished last (bench:sim --sharing max-min, 32 peers on 20 Mbit/s links:
    // last peer 1.61x -> 1.27x the bound). The holder is no farther from the child than the parent, unless the
    // parent has CHILD_LIMIT x count children: a child keeps its same-rack parent rather than cross zones.
    // The pool holds only holders so far.
    const near = localityScore(requester.location, heavy.location)
    light =
      leastBusy(
        pool.filter((p) => localityScore(requester.location, p.location) >= near),
        count,
      ) ?? (heavy.children >= count * CHILD_LIMIT ? leastBusy(pool, count) : undefined)
    if (light) kept.splice(kept.indexOf(heavy), 1, light)
  }
  if (kept.length >= count) return kept
  for (const p of idle.slice(keepIdle)) taken.delete(p.id)
  let seen = 0
  for (const p of input.peers) {
    if (++seen > PEER_SAMPLE) break
    consider(p)
  }
  // A candidate with CHILD_LIMIT × count children goes last: early on the few holders are every child's first
  // choice, and a parent is kept while it serves (bench:sim, 200 peers: 9 distinct parents for the first 13 s).
  const full = count * CHILD_LIMIT
  const rank = (p: P, i: number) => ({
    p,
    full: p.children >= full ? 1 : 0,
    holder: i < byHolders ? 1 : 0,
    near: localityScore(requester.location, p.location),
  })
  // The holder swapped in above is already kept.
  const ranked = pool
    .map(rank)
    .filter((r) => r.p !== light)
    .sort((a, b) => a.full - b.full || b.holder - a.holder || b.near - a.near || a.p.children - b.p.children)
  return [...kept, ...ranked.slice(0, count - kept.length).map((r) => r.p)]
}

/** Whether `have` holds a piece `lacks` does not. */
export function holdsMissing(have: Bitset, lacks: Bitset): boolean {
  return have.hasAnyNotIn(lacks)
}

/** The candidate with the fewest children, if any has fewer than `below`. */
function leastBusy<P extends ParentCandidate>(candidates: readonly P[], below: number): P | undefined {
  let best: P | undefined
  for (const p of candidates) if (p.children < below && (!best || p.children < best.children)) best = p
  return best
}

/** Up to `limit` pieces the requester lacks that someone holds, fewest holders first. */
function rarestMissing(have: Bitset, holders: ArrayLike<number>, limit: number): number[] {
  const picked: { piece: number; n: number }[] = []
  for (let piece = 0; piece < have.size && picked.length < limit * 4; piece++) {
    const n = holders[piece] ?? 0
    if (n > 0 && !have.has(piece)) picked.push({ piece, n })
  }
  return picked
    .sort((a, b) => a.n - b.n)
    .slice(0, limit)
    .map((x) => x.piece)
}

/** FNV-1a of the requester id, mixed with the piece: where a scan of that piece's holders starts. */
function spread(id: string, piece: number): number {
  let h = 2166136261 ^ piece
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619)
  return h >>> 0
}
