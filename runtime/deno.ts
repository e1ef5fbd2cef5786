import type { ServeFn } from '../core/serve.ts'
import { createSha256 } from './node-hash.ts'
import type { Runtime } from './types.ts'

interface DenoServer {
  addr: { port: number }
  shutdown(): Promise<void>
  finished: Promise<void>
}
declare const Deno: {
  serve(options: Record<string, unknown>, handler: (request: Request) => Response | Promise<Response>): DenoServer
}

const denoServe: ServeFn = (fetch, options) =>
  new Promise((resolve) => {
    const server: DenoServer = Deno.serve(
      { port: options.port, hostname: options.hostname, onListen: () => resolve({ port: server.addr.port, close: () => server.shutdown() }) },
      fetch,
    )
  })

export const denoRuntime: Runtime = { name: 'deno', serve: denoServe, createHash: createSha256 }
