/**
 * Per-piece holder lists, maintained as pieces are gained and holders leave,
 * so the scheduler looks for a source of piece `n` among the peers holding
 * `n` instead of among every peer of the swarm (10,000 peers x 8 pieces per
 * pull was the cost that made large swarms infeasible).
 *
 * Each list is unordered: removal swaps the last entry into the freed place,
 * using the position every member keeps per piece, so add and remove are O(1)
 * per piece and a departure is O(pieces held).
 */
export class HolderIndex<T extends object> {
  private readonly lists: T[][]
  private readonly positions = new Map<T, Int32Array>()

  constructor(pieceCount: number) {
    this.lists = Array.from({ length: pieceCount }, () => [])
  }

  /** The holders of `piece`; read-only, valid until the next change. */
  of(piece: number): readonly T[] {
    return this.lists[piece] ?? EMPTY
  }

  has(piece: number, holder: T): boolean {
    return (this.positions.get(holder)?.[piece] ?? -1) >= 0
  }

  add(piece: number, holder: T): void {
    const list = this.lists[piece]
    if (!list) return
    let at = this.positions.get(holder)
    if (!at) {
      at = new Int32Array(this.lists.length).fill(-1)
      this.positions.set(holder, at)
    }
    if (at[piece]! >= 0) return
    at[piece] = list.length
    list.push(holder)
  }

  /** Takes `holder` out of every list it is in. */
  remove(holder: T): void {
    const at = this.positions.get(holder)
    if (!at) return
    this.positions.delete(holder)
    for (let piece = 0; piece < at.length; piece++) {
      const i = at[piece]!
      if (i < 0) continue
      const list = this.lists[piece]!
      const last = list.pop()!
      if (last !== holder) {
        list[i] = last
        this.positions.get(last)![piece] = i
      }
    }
  }

  get size(): number {
    return this.positions.size
  }
}

const EMPTY: readonly never[] = []
