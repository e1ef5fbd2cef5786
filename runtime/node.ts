import type { PieceHttpGet } from '../core/contract/piece-get.ts'
import { nodeApiFetch } from './node-api-fetch.ts'
import { nodeGuardedFetch } from './node-guarded-fetch.ts'
import { createSha256 } from './node-hash.ts'
import { createPieceHasher } from './node-hash-thread.ts'
import { nodePieceGet } from './node-piece-get.ts'
import { socketPieceGet } from './node-piece-socket.ts'
import { nodeServe } from './node-serve.ts'
import { allocateShared } from './page-memory.ts'
import type { Runtime } from './types.ts'

// Plain-HTTP pieces read straight into the receiver's buffer; HTTPS goes through node:https.
const pieceGet: PieceHttpGet = (url, init) => (url.startsWith('http:') ? socketPieceGet(url, init) : nodePieceGet(url, init))

export const nodeRuntime: Runtime = {
  name: 'node',
  serve: nodeServe,
  createHash: createSha256,
  pieceGet,
  apiFetch: nodeApiFetch,
  createPieceHasher,
  allocate: allocateShared,
  guardedFetch: nodeGuardedFetch,
}
