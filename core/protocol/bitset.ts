import { fromBase64, toBase64 } from './digest.ts'

/** Fixed-size set of piece numbers; the "which pieces does X have" of the swarm. */
export class Bitset {
  readonly size: number
  private bits: Uint8Array
  private _count = 0

  constructor(size: number) {
    this.size = size
    this.bits = new Uint8Array(Math.ceil(size / 8))
  }

  static full(size: number): Bitset {
    const b = new Bitset(size)
    for (let i = 0; i < size; i++) b.set(i)
    return b
  }

  static fromBase64(size: number, encoded: string): Bitset {
    const b = new Bitset(size)
    const raw = fromBase64(encoded)
    for (let i = 0; i < size; i++) if (((raw[i >> 3] ?? 0) >> (i & 7)) & 1) b.set(i)
    return b
  }

  get count(): number {
    return this._count
  }

  get complete(): boolean {
    return this._count === this.size
  }

  has(i: number): boolean {
    return i >= 0 && i < this.size && ((this.bits[i >> 3]! >> (i & 7)) & 1) === 1
  }

  /** Returns true when the bit was newly set. */
  set(i: number): boolean {
    if (i < 0 || i >= this.size || this.has(i)) return false
    this.bits[i >> 3]! |= 1 << (i & 7)
    this._count++
    return true
  }

  clear(i: number): void {
    if (!this.has(i)) return
    this.bits[i >> 3]! &= ~(1 << (i & 7))
    this._count--
  }

  /** Whether this set holds a member `other` lacks: a byte at a time, stopping at the first (parent choice asks it on every sync). */
  hasAnyNotIn(other: Bitset): boolean {
    if (this._count === 0) return false
    if (other.size < this.size) {
      for (let i = other.size; i < this.size; i++) if (this.has(i)) return true
    }
    const theirs = other.bits
    const bytes = Math.min(this.bits.length, theirs.length)
    for (let k = 0; k < bytes; k++) if ((this.bits[k]! & ~theirs[k]!) !== 0) return true
    return false
  }

  /** Grows the set when a source of unknown length turns out longer. */
  resize(size: number): Bitset {
    const b = new Bitset(size)
    for (let i = 0; i < Math.min(size, this.size); i++) if (this.has(i)) b.set(i)
    return b
  }

  toBase64(): string {
    return toBase64(this.bits)
  }

  /** Length of the run of set bits starting at 0. */
  prefixLength(): number {
    let i = 0
    while (i < this.size && this.has(i)) i++
    return i
  }
}
