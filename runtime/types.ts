import type { CreateHash } from '../core/digest.ts'
import type { PieceHttpGet } from '../core/piece-get.ts'
import type { ServeFn } from '../core/serve.ts'

/** What a runtime adapter hands to core: a socket server and an incremental hash. */
export interface Runtime {
  name: 'node' | 'bun' | 'deno'
  serve: ServeFn
  createHash: CreateHash
  /** A faster piece GET than `fetch`, where the runtime has one. */
  pieceGet?: PieceHttpGet
}
