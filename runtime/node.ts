import { type Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Http2Bindings, type HttpBindings, serve } from '@hono/node-server'
import type { PieceHttpGet } from '../core/contract/piece-get.ts'
import type { ServeFn } from '../core/contract/serve.ts'
import { nodeApiFetch } from './node-api-fetch.ts'
import { tunnelConnect } from './node-connect.ts'
import { nodeGuardedFetch } from './node-guarded-fetch.ts'
import { createSha256 } from './node-hash.ts'
import { allocateShared, createPieceHasher } from './node-hash-thread.ts'
import { sendLent } from './node-lent-body.ts'
import { nodePieceGet } from './node-piece-get.ts'
import { socketPieceGet } from './node-piece-socket.ts'
import type { Runtime } from './types.ts'

const nodeServe: ServeFn = (fetch, options) =>
  new Promise((resolve, reject) => {
    // The global Request/Response swap (a Node speed-up) would break Bun.serve when this
    // adapter runs a side server under Bun (the demo origin), so it is Node-only.
    const overrideGlobalObjects = !('Bun' in globalThis)
    // The response's 'close' comes after its last write completed (or the socket is gone).
    const withBindings = (request: Request, env: HttpBindings | Http2Bindings) => {
      const out = env.outgoing
      return fetch(request, {
        afterResponse: (fn) => out.once('close', fn),
        remoteAddress: env.incoming.socket?.remoteAddress,
        // Node's own HTTP/1 responses only: their write callbacks say when a chunk reached the kernel.
        ...(overrideGlobalObjects && out instanceof ServerResponse ? { sendLent: (status, headers, body) => sendLent(out, status, headers, body) } : {}),
      })
    }
    const server = serve({ fetch: withBindings, port: options.port, hostname: options.hostname, overrideGlobalObjects }, (info: AddressInfo) => {
      const http = server as Server
      // Long-polls and slow pieces must not be cut by Node's default timeouts.
      http.requestTimeout = 0
      http.headersTimeout = 60_000
      http.keepAliveTimeout = 65_000
      if (options.tunnelConnect) tunnelConnect(http, options.tunnelConnect === true ? undefined : options.tunnelConnect)
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            http.closeAllConnections?.()
            http.close(() => done())
          }),
      })
    })
    server.once('error', reject)
  })

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
