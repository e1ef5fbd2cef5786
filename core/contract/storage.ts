/**
 * The storage capability: one random-access blob per task (content, written
 * piece by piece at offsets) and small JSON metadata records. storage-fs is
 * the default driver; any driver passing `testStorage` can replace it.
 */
export interface StorageDriver {
  readonly name: string
  /** Writes `data` at `offset` of the blob `key`, creating it if needed. `data` is reused after the promise settles: copy it to keep it. */
  writeAt(key: string, offset: number, data: Uint8Array): Promise<void>
  /** Reads exactly `length` bytes at `offset`; rejects if the blob is shorter. */
  readAt(key: string, offset: number, length: number): Promise<Uint8Array>
  /**
   * Optional: like `readAt`, into memory the caller owns (`target.byteLength` bytes); piece servers reuse it across
   * requests. `once`: the bytes are read this one time (a content stream to a client), so a store may read around
   * its cache, where it has one.
   */
  readInto?(key: string, offset: number, target: Uint8Array, hint?: { once?: boolean }): Promise<void>
  /**
   * Optional: `length` bytes at `offset` as a body the runtime's server sends from the file, read only when
   * it is sent: a driver offers it where the runtime has one (Bun: a file-backed Blob, sent with sendfile;
   * Deno: a byte stream of the range, which the Deno adapter's server reads into its own reused buffers).
   * A stream may run past `length`: the piece server sends it with `Content-Length: length`, where the
   * server stops. Piece servers prefer it, when no transform or rate limit applies, to reading the piece
   * into JS memory of their own.
   */
  bodyAt?(key: string, offset: number, length: number): Promise<Blob | ReadableStream<Uint8Array>>
  /** Removes the blob and its metadata; no error when absent. */
  remove(key: string): Promise<void>
  getMeta<T = unknown>(key: string): Promise<T | null>
  setMeta(key: string, value: unknown): Promise<void>
  listKeys(): Promise<string[]>
  /** Optional: hand the finished blob to a path outside storage (rename when possible). */
  exportTo?(key: string, path: string): Promise<void>
  /** Optional: bytes held, for quotas and status. */
  usage?(): Promise<number>
  /** Bytes that can still be written (free space for this storage), or null when unknown; checked before a download. */
  available?(): Promise<number | null>
  close?(): Promise<void>
}

export interface StorageContext {
  /** The role's home directory (`--home`). */
  home: string
  /** Which role's data: the supernode's CDN cache or a peer's pieces. */
  namespace: 'cdn' | 'peer'
}

export type StorageFactory = (context: StorageContext) => StorageDriver

/** Keys come from task ids (hex) plus a namespace; anything else is refused. */
export const STORAGE_KEY_RE = /^[0-9a-z][0-9a-z._-]{0,127}$/
