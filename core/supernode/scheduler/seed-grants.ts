/**
 * First copies in the parents protocol: which peer takes which piece from the
 * supernode. A piece no peer holds is granted to one requester at a time; the
 * others wait until that peer holds it and fetch it from there, so the
 * supernode's uplink carries each piece about once (BitTorrent's
 * super-seeding has the same aim). A grant lapses after `ttlMs` (the grantee
 * is slow or gone) and the piece is granted again.
 *
 * Pieces below `cursor` all have a holder: a scan starts there, so granting
 * costs O(live grants) per call, not O(pieces).
 */
export class SeedGrants {
  private readonly owner = new Map<number, { peer: string; until: number }>()
  private cursor = 0

  constructor(
    private readonly pieceCount: number,
    private readonly ttlMs: number,
  ) {}

  /** Grants now in force. */
  live(now: number): number {
    for (const [piece, g] of this.owner) if (g.until <= now) this.owner.delete(piece)
    return this.owner.size
  }

  /**
   * Up to `count` pieces for `peer` among those `free` accepts (seeded, held
   * by nobody, not held by the requester), skipping pieces granted to others.
   * `held(piece)` says a piece has a holder (the cursor moves past those).
   */
  grant(peer: string, count: number, now: number, held: (piece: number) => boolean, free: (piece: number) => boolean): number[] {
    const out: number[] = []
    for (let piece = this.cursor; piece < this.pieceCount && out.length < count; piece++) {
      if (held(piece)) {
        if (piece === this.cursor) this.cursor++
        continue
      }
      const g = this.owner.get(piece)
      if (g && g.until > now) continue
      if (!free(piece)) continue
      this.owner.set(piece, { peer, until: now + this.ttlMs })
      out.push(piece)
    }
    return out
  }

  /** A spare copy of `piece` for a requester that has waited with nothing to fetch (the piece may be granted or held elsewhere). */
  spare(peer: string, piece: number, now: number): void {
    this.owner.set(piece, { peer, until: now + this.ttlMs })
  }

  /** Whether `piece` is granted and not lapsed. */
  granted(piece: number, now: number): boolean {
    const g = this.owner.get(piece)
    return g !== undefined && g.until > now
  }

  /** `piece` has a holder now: its grant is done. */
  fulfilled(piece: number): void {
    this.owner.delete(piece)
  }

  /** `piece` lost its last holder: it may be granted again. */
  lost(piece: number): void {
    if (piece < this.cursor) this.cursor = piece
  }

  /** A peer left: its grants lapse at once. */
  dropPeer(peer: string): void {
    for (const [piece, g] of this.owner) {
      if (g.peer === peer) {
        this.owner.delete(piece)
        this.lost(piece)
      }
    }
  }
}
