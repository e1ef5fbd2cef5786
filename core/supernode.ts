import type { Hono } from 'hono'
import type { CacheGcOptions } from './cache-gc.ts'
import { Cdn } from './cdn.ts'
import type { CreateHash } from './digest.ts'
import { createMetricsRegistry, type MetricsRegistry } from './metrics.ts'
import { createObserveRoutes } from './observe-routes.ts'
import type { PluginSet } from './plugin.ts'
import { createPreheatRoutes } from './preheat.ts'
import { createLimits } from './rate-limit.ts'
import type { RetryPolicy } from './source-retry.ts'
import { createSourceGuard, type SourceGuardOptions } from './source-guard.ts'
import type { StorageDriver } from './storage.ts'
import { createSupernodeApp } from './supernode-app.ts'
import { combineEvents, type SupernodeEvents } from './supernode-events.ts'
import { createSupernodeMetrics } from './supernode-metrics.ts'
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
  /** Source hosts this supernode may fetch from; metadata endpoints are always denied. */
  sources?: SourceGuardOptions
  /** Disk quota of the CDN cache with LRU eviction between watermarks. */
  cache?: CacheGcOptions
  /** How often gone peers are swept and the cache quota is checked. @default 5000 */
  sweepIntervalMs?: number
  /** Bytes/s the supernode reads from sources, and serves to peers, across all tasks; 0 = unlimited. */
  totalLimit?: number
  /** Listeners for task and peer events (logs). */
  events?: SupernodeEvents
  /** Registry `/metrics` renders; pass one to share it with other components. @default a new one */
  metrics?: MetricsRegistry
}

export interface Supernode {
  app: Hono
  cdn: Cdn
  metrics: MetricsRegistry
  /** Stops: refuses new work, answers waiting peers E_NOT_READY (how many is returned), flushes the cache's state. */
  close(): Promise<{ toldPeers: number }>
}

/** A supernode without a socket: serve `app.fetch` with the runtime's adapter. */
export function createSupernode(options: SupernodeOptions): Supernode {
  const registry = options.metrics ?? createMetricsRegistry()
  const metrics = createSupernodeMetrics(registry, () => cdn)
  const events = combineEvents(metrics.events, options.events)
  const guard = createSourceGuard(options.sources)
  const cdn: Cdn = new Cdn({ plugins: options.plugins, storage: options.storage, createHash: options.createHash, swarm: options.swarm, retry: options.retry, guard, events, limits: createLimits(options.totalLimit) })
  let accepting = true
  const shutdown = new AbortController()
  const inflight = { pulls: 0 }
  const app = createSupernodeApp({
    cdn,
    storage: options.storage,
    longPollMs: options.longPollMs ?? 15_000,
    plugins: options.plugins,
    shutdown: shutdown.signal,
    inflight,
    events,
    scheduleDuration: metrics.scheduleDuration,
    routes: [
      createObserveRoutes({ cdn, storage: options.storage, registry, metrics, accepting: () => accepting, startedAt: Date.now() }),
      createPreheatRoutes({ cdn, guard, onError: (url, error) => events.taskFailed?.({ taskId: '', url }, error) }),
    ],
  })
  let collecting = false
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const entry of cdn.tasks.values()) entry.task?.swarm.expire(now)
    if (options.cache && !collecting) {
      collecting = true
      cdn
        .collect(options.cache)
        .then((result) => void (result && result.removed.length > 0 && events.cacheCollected?.(result)))
        .catch(() => null)
        .finally(() => (collecting = false))
    }
  }, options.sweepIntervalMs ?? 5_000)
  ;(sweep as { unref?: () => void }).unref?.()
  return {
    app,
    cdn,
    metrics: registry,
    async close() {
      accepting = false
      // Tell every peer waiting on a pull (E_NOT_READY: they move to their next supernode) and let those answers go out.
      const toldPeers = inflight.pulls
      shutdown.abort()
      for (const until = Date.now() + 2_000; inflight.pulls > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20))
      clearInterval(sweep)
      cdn.close()
      await options.storage.close?.()
      return { toldPeers }
    },
  }
}
