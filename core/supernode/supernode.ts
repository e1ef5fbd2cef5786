import type { Hono } from 'hono'
import type { CacheGcOptions } from '../cache/cache-gc.ts'
import { type Cluster, createCluster } from '../cluster/cluster.ts'
import type { ClusterSelf } from '../cluster/directory.ts'
import type { ClusterStore } from '../contract/cluster-store.ts'
import type { CreateHash } from '../contract/hash.ts'
import { outgoingHeaders, type PluginSet } from '../contract/plugin.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { createMetricsRegistry, type MetricsRegistry } from '../metrics.ts'
import { createSourceGuard, type SourceGuardOptions } from '../source/source-guard.ts'
import type { RetryPolicy } from '../source/source-retry.ts'
import { createLimits } from '../transfer/rate-limit.ts'
import { createSupernodeApp } from './app.ts'
import { BandwidthHistory } from './bandwidth.ts'
import { createBandwidthRoutes } from './bandwidth-routes.ts'
import { Cdn } from './cdn/cdn.ts'
import { combineEvents, type SupernodeEvents } from './events.ts'
import { createSupernodeMetrics } from './metrics.ts'
import { createObserveRoutes } from './observe-routes.ts'
import { createPreheatRoutes } from './preheat.ts'
import type { SwarmOptions } from './scheduler/swarm-types.ts'

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
  /** Cluster mode: share tasks and swarms with the other supernodes using this store (docs/cluster.md). */
  /** Believe the address a peer advertises (NAT, proxies) instead of the one its registration came from. @default false */
  trustAdvertisedAddress?: boolean
  cluster?: {
    store: ClusterStore
    /** @default 6000 */
    leaseMs?: number
    onProblem?: (message: string, taskId?: string) => void
  }
}

export interface Supernode {
  app: Hono
  cdn: Cdn
  metrics: MetricsRegistry
  /** Cluster mode: joins the cluster once listening at `self.url` (no-op otherwise). */
  join(self: Omit<ClusterSelf, 'id'>): Promise<void>
  /** Stops: refuses new work, answers waiting peers E_NOT_READY (how many is returned), flushes the cache's state. */
  close(): Promise<{ toldPeers: number }>
}

/** A supernode without a socket: serve `app.fetch` with the runtime's adapter. */
export function createSupernode(options: SupernodeOptions): Supernode {
  const registry = options.metrics ?? createMetricsRegistry()
  const metrics = createSupernodeMetrics(registry, () => cdn)
  const bandwidth = new BandwidthHistory()
  const events = combineEvents(metrics.events, bandwidth.events, options.events)
  const guard = createSourceGuard(options.sources)
  const cluster: Cluster | undefined = options.cluster
    ? createCluster({
        ...options.cluster,
        storage: options.storage,
        createHash: options.createHash,
        transforms: options.plugins.transforms,
        headers: (url) => outgoingHeaders(options.plugins, url),
      })
    : undefined
  const cdn: Cdn = new Cdn({
    plugins: options.plugins,
    storage: options.storage,
    createHash: options.createHash,
    swarm: options.swarm,
    retry: options.retry,
    guard,
    events,
    coordinator: cluster?.coordinator,
    limits: createLimits(options.totalLimit),
  })
  let accepting = true
  const shutdown = new AbortController()
  const inflight = { pulls: 0 }
  // With request checks (auth-header) every caller of the API holds the token: that is the admin credential.
  const admin = options.plugins.hooks.some((h) => h.checkRequest !== undefined)
  const app = createSupernodeApp({
    admin,
    trustAdvertisedAddress: options.trustAdvertisedAddress,
    cdn,
    storage: options.storage,
    longPollMs: options.longPollMs ?? 15_000,
    plugins: options.plugins,
    shutdown: shutdown.signal,
    inflight,
    events,
    scheduleDuration: metrics.scheduleDuration,
    ...(cluster ? { supernodesFor: cluster.supernodesFor } : {}),
    routes: [
      createObserveRoutes({
        cdn,
        storage: options.storage,
        registry,
        metrics,
        accepting: () => accepting,
        startedAt: Date.now(),
        admin,
        ...(cluster ? { cluster: cluster.health } : {}),
      }),
      createBandwidthRoutes({ history: bandwidth, knows: (taskId) => cdn.get(taskId) !== undefined }),
      createPreheatRoutes({ cdn, guard, onError: (url, error) => events.taskFailed?.({ taskId: '', url }, error) }),
      ...(cluster ? [cluster.routes] : []),
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
    async join(self) {
      await cluster?.start(cdn, self, () => localPeers(cdn))
    },
    async close() {
      accepting = false
      // Tell every peer waiting on a pull (E_NOT_READY: they move to their next supernode) and let those answers go out.
      const toldPeers = inflight.pulls
      shutdown.abort()
      for (const until = Date.now() + 2_000; inflight.pulls > 0 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 20))
      clearInterval(sweep)
      await cluster?.close()
      cdn.close()
      await options.storage.close?.()
      return { toldPeers }
    },
  }
}

/** Peers registered with this supernode (not the ones other supernodes of its cluster mirror here). */
function localPeers(cdn: Cdn): number {
  let n = 0
  for (const entry of cdn.tasks.values()) for (const p of entry.task?.swarm.peers.values() ?? []) if (p.remote === undefined) n++
  return n
}
