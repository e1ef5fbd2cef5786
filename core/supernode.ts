import type { Hono } from 'hono'
import { Cdn } from './cdn.ts'
import type { CreateHash } from './digest.ts'
import type { PluginSet } from './plugin.ts'
import type { RetryPolicy } from './source-retry.ts'
import type { StorageDriver } from './storage.ts'
import { createSupernodeApp } from './supernode-app.ts'
import type { SwarmOptions } from './swarm.ts'

export interface SupernodeOptions {
  plugins: PluginSet
  /** The CDN cache (the storage plugin opened on the `cdn` namespace). */
  storage: StorageDriver
  createHash: CreateHash
  /** @default 15000 */
  longPollMs?: number
  swarm?: Partial<SwarmOptions>
  /** Source retries (5xx, failed connections, bodies cut short). */
  retry?: RetryPolicy
  /** How often gone peers are swept. @default 5000 */
  sweepIntervalMs?: number
}

export interface Supernode {
  app: Hono
  cdn: Cdn
  close(): Promise<void>
}

/** A supernode without a socket: serve `app.fetch` with the runtime's adapter. */
export function createSupernode(options: SupernodeOptions): Supernode {
  const cdn = new Cdn({ plugins: options.plugins, storage: options.storage, createHash: options.createHash, swarm: options.swarm, retry: options.retry })
  const app = createSupernodeApp({ cdn, storage: options.storage, longPollMs: options.longPollMs ?? 15_000, plugins: options.plugins })
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const entry of cdn.tasks.values()) entry.task?.swarm.expire(now)
  }, options.sweepIntervalMs ?? 5_000)
  ;(sweep as { unref?: () => void }).unref?.()
  return {
    app,
    cdn,
    async close() {
      clearInterval(sweep)
      cdn.close()
      await options.storage.close?.()
    },
  }
}
