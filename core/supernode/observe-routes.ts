import { Hono } from 'hono'
import type { ClusterHealth } from '../cluster/cluster.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { createError } from '../errors.ts'
import { METRICS_CONTENT_TYPE, type MetricsRegistry } from '../metrics.ts'
import { bytesHeld } from '../protocol/piece-layout.ts'
import { METRICS_PATH, READY_PATH, SUPERNODE_ROUTES } from '../protocol/routes.ts'
import type { SupernodeStatus } from '../protocol/supernode-answers.ts'
import type { Cdn } from './cdn/cdn.ts'
import { type CdnTask, downloadsOf, shownTo, taskState } from './cdn/cdn-task.ts'
import { DASHBOARD_HTML } from './dashboard-page.ts'
import type { SupernodeMetrics } from './metrics.ts'

export interface ObserveRoutesOptions {
  cdn: Cdn
  storage: StorageDriver
  registry: MetricsRegistry
  metrics: SupernodeMetrics
  /** False once the supernode is shutting down. */
  accepting: () => boolean
  startedAt: number
  /** Cluster mode: the store's reachability (not ready while it does not answer). */
  cluster?: () => ClusterHealth
  /** Callers are admins (request checks are configured): private tasks are shown to them. */
  admin?: boolean
}

/** What people and monitoring look at: the dashboard, metrics, readiness, status, piece maps. */
export function createObserveRoutes(options: ObserveRoutesOptions): Hono {
  const { cdn, storage, registry } = options
  const app = new Hono()
  const tasks = (): CdnTask[] => [...cdn.tasks.values()].flatMap((e) => (e.task ? [e.task] : []))

  app.get(SUPERNODE_ROUTES.dashboard, (c) => c.html(DASHBOARD_HTML))

  app.get(METRICS_PATH, (c) => c.body(registry.render(), 200, { 'content-type': METRICS_CONTENT_TYPE }))

  // Ready = accepting work and the cache answers; liveness stays `/healthz`.
  app.get(READY_PATH, async (c) => {
    if (!options.accepting()) throw createError('E_NOT_READY', 'supernode is shutting down')
    try {
      await storage.getMeta('readyz-probe')
    } catch (cause) {
      throw createError('E_NOT_READY', `cache storage ${storage.name} does not answer`, { cause })
    }
    // Cached tasks are still served meanwhile; a balancer should send new work to a supernode that can coordinate it.
    if (options.cluster && !options.cluster().storeReachable)
      throw createError('E_NOT_READY', 'cluster store does not answer: serving the tasks held here, refusing new ones')
    return c.json({ ready: true })
  })

  app.get(SUPERNODE_ROUTES.status, async (c) => {
    const all = tasks()
    const peers = all.flatMap((t) => [...t.swarm.peers.values()])
    const totals = options.metrics.totals()
    const state = { running: 0, complete: 0, failed: 0 }
    for (const t of all) state[taskState(t)]++
    return c.json<SupernodeStatus>({
      uptimeSeconds: Math.round((Date.now() - options.startedAt) / 1000),
      ready: options.accepting() && (options.cluster?.().storeReachable ?? true),
      tasks: { total: all.length, ...state },
      peers: peers.length,
      downloads: all.reduce((sum, t) => sum + downloadsOf(t), 0),
      isolatedPeers: peers.filter((p) => p.isolated).length,
      cache: {
        bytes: all.reduce((sum, t) => sum + bytesHeld(t.layout, t.swarm.seed.have), 0),
        storageBytes: (await storage.usage?.().catch(() => null)) ?? null,
      },
      bytesFromSource: totals.sourceBytes,
      bytesDelivered: { supernode: totals.fromSupernode, peers: totals.fromPeers },
      backToSource: totals.backToSource,
      ...(options.cluster ? { cluster: options.cluster() } : {}),
    })
  })

  // Compact piece maps for the dashboard: one base64 bitset per holder.
  app.get(SUPERNODE_ROUTES.pieceMap, (c) => {
    const found = cdn.get(c.req.param('taskId'))
    const task = found && shownTo(found, options.admin === true) ? found : undefined
    if (!task) throw createError('E_UNKNOWN_TASK', `no task ${c.req.param('taskId')}`)
    return c.json({
      taskId: task.taskId,
      pieceCount: task.layout.pieceCount,
      version: task.swarm.version,
      supernode: task.swarm.seed.have.toBase64(),
      peers: [...task.swarm.peers.values()].map((p) => ({
        id: p.id,
        address: p.address,
        location: p.location ?? null,
        hostname: p.hostname ?? null,
        isolated: p.isolated,
        pieces: p.have.count,
        have: p.have.toBase64(),
      })),
    })
  })

  return app
}
