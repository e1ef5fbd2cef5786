import type { CreateHash, IncrementalHash } from '../contract/hash.ts'
import type { Bitset } from '../protocol/bitset.ts'

/**
 * Reads piece `n` into `target` (its exact size) or returns it in memory of
 * its own; the bytes need to stay unchanged only until the next call.
 */
export type ReadPiece = (n: number, target: (bytes: number) => Uint8Array) => Promise<Uint8Array>

/**
 * The whole-content sha256 of pieces that arrive in any order: it hashes the
 * run of pieces present from the start, reading back from storage those that
 * arrived early (in a swarm, most of them: rarest first is not file order)
 * into one buffer it reuses. Calls are serialized so the hash sees bytes in order.
 */
export class OrderedDigest {
  private readonly hash: IncrementalHash
  private next = 0
  private chain: Promise<void> = Promise.resolve()
  private scratch: Uint8Array | undefined

  constructor(
    createHash: CreateHash,
    private readonly pieceCount: number,
    private readonly readPiece: ReadPiece,
  ) {
    this.hash = createHash()
  }

  /** Hash as far as `have` allows; `fresh` is a just-verified piece still in memory. */
  advance(have: Bitset, fresh?: { piece: number; bytes: Uint8Array }): Promise<void> {
    this.chain = this.chain.then(async () => {
      while (this.next < this.pieceCount && have.has(this.next)) {
        const bytes = fresh?.piece === this.next ? fresh.bytes : await this.readPiece(this.next, (n) => this.target(n))
        this.hash.update(bytes)
        this.next++
      }
    })
    return this.chain
  }

  private target(bytes: number): Uint8Array {
    if (!this.scratch || this.scratch.byteLength < bytes) this.scratch = new Uint8Array(bytes)
    return this.scratch.subarray(0, bytes)
  }

  /** `sha256:<hex>` once every piece was hashed, else null. */
  async digest(): Promise<string | null> {
    await this.chain
    return this.next === this.pieceCount ? `sha256:${this.hash.digest()}` : null
  }
}
