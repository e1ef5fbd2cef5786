/* The hash capabilities a runtime hands to core: sha256 on the caller's thread, and off it. */

/** An incremental hasher handed to core by the runtime (core cannot stream through Web Crypto). */
export interface IncrementalHash {
  update(data: Uint8Array): void
  /** Lower-case hex. */
  digest(): string
}

export type CreateHash = () => IncrementalHash

/**
 * A sha256 computed off the caller's thread. `update` may keep a reference to
 * the bytes instead of copying them (memory from the runtime's `allocate`):
 * they must stay unchanged until `digest()` has settled. Call `digest()` once,
 * also to give up on a hash (the result can be ignored).
 */
export interface PieceHasher {
  update(bytes: Uint8Array): void
  /** Lower-case hex. */
  digest(): Promise<string>
}

export type CreatePieceHasher = () => PieceHasher
