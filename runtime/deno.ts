import { createDenoPieceHasher, denoHashThread } from './deno-hash-thread.ts'
import { denoHttpServe } from './deno-http-server.ts'
import { denoPieceGet } from './deno-piece-get.ts'
import { createSha256 } from './node-hash.ts'
import { allocateShared } from './page-memory.ts'
import { resolvingFetch } from './resolving-fetch.ts'
import type { Runtime } from './types.ts'

export const denoRuntime: Runtime = {
  name: 'deno',
  serve: denoHttpServe,
  createHash: createSha256,
  // Page-aligned receive buffers: Deno's own allocations are not, and storage-fs's direct writes refuse those
  // (every write then went through the page cache). Shared: the hash thread reads them in place.
  allocate: allocateShared,
  createPieceHasher: createDenoPieceHasher,
  release: () => denoHashThread.stop(),
  pieceGet: denoPieceGet,
  guardedFetch: resolvingFetch,
}
