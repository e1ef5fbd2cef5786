import { type Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type Http2Bindings, type HttpBindings, serve } from '@hono/node-server'
import type { ServeFn } from '../core/contract/serve.ts'
import { tunnelConnect } from './node-connect.ts'
import { sendLent } from './node-lent-body.ts'

/**
 * A server on node:http (through @hono/node-server): the Node adapter's, and the Bun adapter's for a
 * port whose streamed bodies must keep their Content-Length (Bun's node:http keeps it, Bun.serve does not).
 */
export const nodeServe: ServeFn = (fetch, options) =>
  new Promise((resolve, reject) => {
    // Under Bun the global Request/Response swap (a Node speed-up) would break the Bun.serve servers of the
    // same process.
    const onNode = !('Bun' in globalThis)
    const withBindings = (request: Request, env: HttpBindings | Http2Bindings) => {
      const out = env.outgoing
      return fetch(request, {
        remoteAddress: env.incoming.socket?.remoteAddress,
        // Node's responses: 'close' comes after the last write completed (or the socket is gone); not relied on
        // under Bun, whose piece ports (the only users) are on Bun.serve.
        ...(onNode ? { afterResponse: (fn: () => void) => void out.once('close', fn) } : {}),
        // An HTTP/1 response's write callback comes once the chunk reached the kernel: on Node, and on Bun's
        // node:http too (tests/runtime/lent-body.test.ts scribbles over each chunk given back).
        ...(out instanceof ServerResponse ? { sendLent: (status, headers, body) => sendLent(out, status, headers, body) } : {}),
      })
    }
    const server = serve({ fetch: withBindings, port: options.port, hostname: options.hostname, overrideGlobalObjects: onNode }, (info: AddressInfo) => {
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
