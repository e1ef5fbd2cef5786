import type { ServeFn } from '../core/serve.ts'
import { createSha256 } from './node-hash.ts'
import type { Runtime } from './types.ts'

interface BunServer {
  port: number
  stop(closeActive?: boolean): Promise<void> | void
}
declare const Bun: { serve(options: Record<string, unknown>): BunServer }

const bunServe: ServeFn = async (fetch, options) => {
  // idleTimeout 0: Bun's default (10 s) would cut long-polls and slow pieces.
  const server = Bun.serve({ fetch, port: options.port, hostname: options.hostname, idleTimeout: 0 })
  return { port: server.port, close: async () => void (await server.stop(true)) }
}

export const bunRuntime: Runtime = { name: 'bun', serve: bunServe, createHash: createSha256 }
