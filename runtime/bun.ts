import type { ServeFn } from '../core/contract/serve.ts'
import { createError } from '../core/errors.ts'
import { createBunPieceHasher } from './bun-hash-thread.ts'
import { bunPieceGet } from './bun-piece-get.ts'
import { createSha256 } from './node-hash.ts'
import { allocateShared } from './page-memory.ts'
import { resolvingFetch } from './resolving-fetch.ts'
import type { Runtime } from './types.ts'

interface BunServer {
  port: number
  requestIP(request: Request): { address: string } | null
  stop(closeActive?: boolean): Promise<void> | void
}
declare const Bun: { serve(options: Record<string, unknown>): BunServer }

const bunServe: ServeFn = async (fetch, options) => {
  // Bun.serve sends a streamed body chunked even when it has a Content-Length (oven-sh/bun#10507) and has no
  // CONNECT; Bun's node:http keeps the length and can tunnel. Pieces (file bodies, sendfile) stay on Bun.serve.
  if (options.keepStreamLength || options.tunnelConnect) return (await import('./node-serve.ts')).nodeServe(fetch, options)
  // Bun's default idleTimeout (10 s) cuts a request still waiting for its response,
  // i.e. every 15 s long-poll and any stalled piece; 0 disables it (1..255 s otherwise).
  const server: BunServer = Bun.serve({
    fetch: (request: Request, self: BunServer) => fetch(request, { remoteAddress: self.requestIP(request)?.address }),
    port: options.port,
    hostname: options.hostname,
    idleTimeout: 0,
    // A file-backed body is opened only when Bun sends it: a piece whose file was moved away meanwhile
    // (a finished get exporting its download) fails here, after the handler returned. Without this, Bun
    // answers with its own error page and the process later exits with 1.
    error: (error: unknown) => {
      const coded = createError('E_IO', `the answer's body could not be read (${errnoCode(error)})`, { cause: error })
      // The wire form every app answers with (core/protocol/error-body.ts), which a runtime does not import.
      return Response.json({ error: coded.toJSON() }, { status: coded.status })
    },
  })
  return { port: server.port, close: async () => void (await server.stop(true)) }
}

const errnoCode = (error: unknown): string => String((error as { code?: unknown } | null)?.code ?? 'error')

export const bunRuntime: Runtime = {
  name: 'bun',
  serve: bunServe,
  createHash: createSha256,
  pieceGet: bunPieceGet,
  // Shared, page-aligned receive buffers: the hash thread reads them in place, and direct writes take them.
  allocate: allocateShared,
  createPieceHasher: createBunPieceHasher,
  guardedFetch: resolvingFetch,
}
