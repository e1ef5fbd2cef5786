import type { CreateHash, IncrementalHash } from '../contract/hash.ts'
import type { Bitset } from '../protocol/bitset.ts'

/**
 * The whole-content sha256 of pieces that arrive in any order: it hashes the
 * run of pieces present from the start, reading back from storage those that
 * arrived early. Calls are serialized so the hash sees bytes in order.
 */
export class OrderedDigest {
  private readonly hash: IncrementalHash
  private next = 0
  private chain: Promise<void> = Promise.resolve()

  constructor(
    createHash: CreateHash,
    private readonly pieceCount: number,
    private readonly readPiece: (n: number) => Promise<Uint8Array>,
  ) {
    this.hash = createHash()
  }

  /** Hash as far as `have` allows; `fresh` is a just-verified piece still in memory. */
  advance(have: Bitset, fresh?: { piece: number; bytes: Uint8Array }): Promise<void> {
    this.chain = this.chain.then(async () => {
      while (this.next < this.pieceCount && have.has(this.next)) {
        const bytes = fresh?.piece === this.next ? fresh.bytes : await this.readPiece(this.next)
        this.hash.update(bytes)
        this.next++
      }
    })
    return this.chain
  }

  /** `sha256:<hex>` once every piece was hashed, else null. */
  async digest(): Promise<string | null> {
    await this.chain
    return this.next === this.pieceCount ? `sha256:${this.hash.digest()}` : null
  }
}
