import type { ServeFn } from '../core/contract/serve.ts'
import { createDenoPieceHasher } from './deno-hash-thread.ts'
import { denoPieceGet } from './deno-piece-get.ts'
import { createSha256 } from './node-hash.ts'
import { allocatePages } from './page-memory.ts'
import { resolvingFetch } from './resolving-fetch.ts'
import type { Runtime } from './types.ts'

interface DenoServer {
  addr: { port: number }
  shutdown(): Promise<void>
}
/** What Deno.serve hands the handler beside the request; `completed` settles once the response went out (or failed to). */
interface DenoHandlerInfo {
  completed?: Promise<void>
  remoteAddr?: { hostname?: string }
}
declare const Deno: {
  serve(options: Record<string, unknown>, handler: (request: Request, info: DenoHandlerInfo) => Response | Promise<Response>): DenoServer
}

const denoServe: ServeFn = async (fetch, options) => {
  // Deno.serve binds before it returns (a taken port throws here); onListen only
  // replaces Deno's own "Listening on" line, which would pollute --json output.
  const server = Deno.serve({ port: options.port, hostname: options.hostname, onListen: () => {} }, (request, info) => {
    const { completed } = info
    const remoteAddress = info.remoteAddr?.hostname
    // Piece servers lend pooled memory to a body and take it back once Deno says the response is done with it.
    return fetch(request, { remoteAddress, ...(completed ? { afterResponse: (fn: () => void) => void completed.then(fn, fn) } : {}) })
  })
  return { port: server.addr.port, close: () => server.shutdown() }
}

export const denoRuntime: Runtime = {
  name: 'deno',
  serve: denoServe,
  createHash: createSha256,
  // Page-aligned receive buffers: Deno's own allocations are not, and storage-fs's direct writes refuse those
  // (every write then went through the page cache). Shared: the hash thread reads them in place.
  allocate: (bytes) => allocatePages(bytes, true),
  createPieceHasher: createDenoPieceHasher,
  pieceGet: denoPieceGet,
  guardedFetch: resolvingFetch,
}
