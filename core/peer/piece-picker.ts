import type { Bitset } from '../protocol/bitset.ts'

export interface PickInput {
  /** What the parent holds. */
  parent: Bitset
  /** What this peer holds. */
  have: Bitset
  /** Pieces being fetched now (from any source). */
  inflight: { has(piece: number): boolean }
  /** Whether the piece's digest is known here (a piece can be verified only then). */
  verifiable(piece: number): boolean
  /** Parents holding each piece. */
  availability: ArrayLike<number>
  /** Where the scan starts: peers that see the same rarity pick different pieces. */
  offset: number
}

/**
 * Rarest first among a peer's parents: the piece this parent holds, that
 * this peer lacks, is not fetching and can verify, held by the fewest of its
 * parents (a piece only this parent holds is taken at once). Ties go to the
 * first one from `offset`. O(pieces) at worst per pick.
 */
export function pickPiece(input: PickInput): number | undefined {
  const { parent, have, availability } = input
  const size = parent.size
  if (parent.count === 0 || size === 0) return undefined
  let best: number | undefined
  let bestRank = Infinity
  for (let k = 0; k < size; k++) {
    const n = (input.offset + k) % size
    if (!parent.has(n) || have.has(n) || input.inflight.has(n) || !input.verifiable(n)) continue
    const rank = availability[n] ?? 0
    if (rank < bestRank) {
      best = n
      bestRank = rank
      if (rank <= 1) break
    }
  }
  return best
}
