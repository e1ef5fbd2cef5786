import type { ServeFn } from '../core/contract/serve.ts'
import { createSha256 } from './node-hash.ts'
import { resolvingFetch } from './resolving-fetch.ts'
import type { Runtime } from './types.ts'

interface DenoServer {
  addr: { port: number }
  shutdown(): Promise<void>
}
declare const Deno: {
  serve(options: Record<string, unknown>, handler: (request: Request, info: { remoteAddr?: { hostname?: string } }) => Response | Promise<Response>): DenoServer
}

const denoServe: ServeFn = async (fetch, options) => {
  // Deno.serve binds before it returns (a taken port throws here); onListen only
  // replaces Deno's own "Listening on" line, which would pollute --json output.
  const server = Deno.serve({ port: options.port, hostname: options.hostname, onListen: () => {} }, (request, info) =>
    fetch(request, { remoteAddress: info.remoteAddr?.hostname }),
  )
  return { port: server.addr.port, close: () => server.shutdown() }
}

export const denoRuntime: Runtime = { name: 'deno', serve: denoServe, createHash: createSha256, guardedFetch: resolvingFetch }
