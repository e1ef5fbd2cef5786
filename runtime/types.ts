import type { GuardedFetchFactory } from '../core/contract/guarded-fetch.ts'
import type { CreateHash, CreatePieceHasher } from '../core/contract/hash.ts'
import type { PieceHttpGet } from '../core/contract/piece-get.ts'
import type { ServeFn } from '../core/contract/serve.ts'

/** What a runtime adapter hands to core: a socket server and an incremental hash. */
export interface Runtime {
  name: 'node' | 'bun' | 'deno'
  serve: ServeFn
  createHash: CreateHash
  /** A lighter `fetch` for the supernode API's small JSON exchanges, where the runtime has one. */
  apiFetch?: typeof fetch
  /** A faster piece GET than `fetch`, where the runtime has one. */
  pieceGet?: PieceHttpGet
  /** sha256 of received pieces on another thread, where the runtime has one. */
  createPieceHasher?: CreatePieceHasher
  /** Receive-buffer memory that `createPieceHasher` reads in place and direct I/O accepts. */
  allocate?: (bytes: number) => Uint8Array
  /**
   * Stops helper threads started on demand (the hash thread), where the runtime cannot let them idle without
   * holding the process open (Deno's Web Workers); the next use starts them again. A command that is done
   * calls it, so its process ends at once instead of after the threads' idle time.
   */
  release?(): Promise<void>
  /** `fetch` that connects only to addresses a check accepts (the SSRF guard's connect side). */
  guardedFetch: GuardedFetchFactory
}
