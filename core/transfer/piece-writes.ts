import type { StorageDriver } from '../contract/storage.ts'

/**
 * Writes received pieces into a task's storage. One fetch per piece streams:
 * its bytes are written run by run as they arrive (`fetchPiece`'s `onBytes`),
 * while they are still in the CPU's cache; a 4 MiB piece written after it was
 * whole cost the kernel ~1 s per GiB more to copy (perf, 1 GiB get). Other
 * fetches of the same piece (end-game duplicates) keep theirs in memory and
 * write it whole only after the streaming fetch has stopped, so two writers
 * never overlap. The streamed bytes are unverified until the piece is held:
 * the caller marks a piece held only after `settle()` and a good digest, and a
 * later successful fetch rewrites the whole range.
 */
export class PieceWrites {
  /** piece -> settles when the fetch writing its range (streaming, or whole) is done with storage. */
  private readonly busy = new Map<number, Promise<void>>()

  constructor(
    private readonly storage: StorageDriver,
    private readonly key: string,
  ) {}

  /** A writer for one fetch of `piece`, whose range starts at `start`; it streams unless another fetch is writing the piece. */
  open(piece: number, start: number): PieceWriter {
    return new PieceWriter(this, piece, start, !this.busy.has(piece))
  }

  /** @internal Marks `piece`'s range as being written; the returned function ends that. */
  claim(piece: number): () => void {
    let release!: () => void
    const done = new Promise<void>((resolve) => (release = resolve))
    this.busy.set(piece, done)
    return () => {
      if (this.busy.get(piece) === done) this.busy.delete(piece)
      release()
    }
  }

  /** @internal Resolves once no fetch is writing `piece`'s range. */
  async idle(piece: number): Promise<void> {
    for (let writing = this.busy.get(piece); writing; writing = this.busy.get(piece)) await writing
  }

  /** @internal */
  write(offset: number, bytes: Uint8Array): Promise<void> {
    return this.storage.writeAt(this.key, offset, bytes)
  }
}

export class PieceWriter {
  private readonly pending: Promise<void>[] = []
  private failed: unknown = null
  private release: (() => void) | null = null
  /** For `fetchPiece`: set when this fetch streams the piece. */
  readonly onBytes?: (bytes: Uint8Array, offset: number) => void

  constructor(
    private readonly writes: PieceWrites,
    private readonly piece: number,
    private readonly start: number,
    /** This fetch writes its bytes as they arrive. */
    readonly streams: boolean,
  ) {
    if (!streams) return
    this.release = writes.claim(piece)
    this.onBytes = (bytes, offset) => {
      if (this.failed) return
      this.pending.push(this.writes.write(this.start + offset, bytes).catch((error) => void (this.failed ??= error)))
    }
  }

  /** Waits for the bytes handed over so far to be written; throws the first write's error. */
  async settle(): Promise<void> {
    await Promise.all(this.pending.splice(0))
    if (this.failed) throw this.failed
  }

  /**
   * Writes a whole verified piece held in memory (a fetch that did not
   * stream it: a duplicate, or a coded piece) once no other fetch is writing
   * the piece; stop those first (they are not waited for otherwise). Returns
   * false, writing nothing, when `held()` says the piece was stored meanwhile.
   */
  async writeWhole(bytes: Uint8Array, held: () => boolean): Promise<boolean> {
    if (!this.release) {
      await this.writes.idle(this.piece)
      if (held()) return false
      this.release = this.writes.claim(this.piece)
    }
    await this.writes.write(this.start, bytes)
    return true
  }

  /** Call when the fetch is done, after the piece was marked held if it was: waits for its writes, then lets others write. */
  async close(): Promise<void> {
    await Promise.allSettled(this.pending.splice(0))
    this.release?.()
    this.release = null
  }
}
