import { DURATION_BUCKETS, type Histogram, type MetricsRegistry } from '../metrics.ts'
import { bytesHeld } from '../protocol/piece-layout.ts'
import type { Cdn } from './cdn/cdn.ts'
import { taskState } from './cdn/cdn-task.ts'
import type { SupernodeEvents } from './events.ts'

export interface SupernodeMetrics {
  /** Feeds the counters; pass it to the CDN as (part of) its events. */
  events: SupernodeEvents
  /** Time spent in one `swarm.pull` (apply results + schedule). */
  scheduleDuration: Histogram
  totals(): { sourceBytes: number; fromSupernode: number; fromPeers: number; backToSource: number }
}

/**
 * The supernode's `dragonfly_*` metrics on `registry`. Counters follow the
 * events; gauges are read from the CDN's tasks at scrape time.
 */
export function createSupernodeMetrics(registry: MetricsRegistry, cdn: () => Cdn): SupernodeMetrics {
  const sourceBytes = registry.counter({ name: 'dragonfly_source_bytes_total', help: 'Bytes the supernode read from sources.' })
  const pieceBytes = registry.counter({
    name: 'dragonfly_piece_bytes_total',
    help: 'Piece bytes peers reported as received and verified, by who served them.',
    initial: [{ from: 'supernode' }, { from: 'peer' }],
  })
  const backToSource = registry.counter({
    name: 'dragonfly_back_to_source_total',
    help: 'Downloads that peers reported they fetched from the source themselves.',
  })
  const backToSourceBytes = registry.counter({
    name: 'dragonfly_back_to_source_bytes_total',
    help: 'Bytes peers reported they fetched from the source themselves.',
  })
  const tasksFinished = registry.counter({ name: 'dragonfly_tasks_finished_total', help: 'Source fetches that ended, by result.', initial: [] })
  const evictions = registry.counter({ name: 'dragonfly_cache_evictions_total', help: 'Tasks evicted from the cache to stay under its quota.' })
  const isolations = registry.counter({ name: 'dragonfly_peer_isolations_total', help: 'Peers isolated for serving bad pieces.' })
  const scheduleDuration = registry.histogram({
    name: 'dragonfly_schedule_duration_seconds',
    help: "Time to apply a pull request's results and schedule its next batch.",
    buckets: DURATION_BUCKETS,
  })

  const tasks = () => [...cdn().tasks.values()].flatMap((e) => (e.task ? [e.task] : []))
  const peers = () => tasks().flatMap((t) => [...t.swarm.peers.values()])
  registry.gauge({ name: 'dragonfly_peers', help: 'Peers registered in any swarm.', collect: () => peers().length })
  registry.gauge({ name: 'dragonfly_isolated_peers', help: 'Registered peers that are isolated.', collect: () => peers().filter((p) => p.isolated).length })
  registry.gauge({
    name: 'dragonfly_tasks',
    help: 'Tasks the supernode knows, by state.',
    collect: () => {
      const count = { running: 0, complete: 0, failed: 0 }
      for (const t of tasks()) count[taskState(t)]++
      return Object.entries(count).map(([state, value]) => ({ labels: { state }, value }))
    },
  })
  registry.gauge({
    name: 'dragonfly_cache_bytes',
    help: 'Bytes of verified pieces in the supernode cache.',
    collect: () => tasks().reduce((sum, t) => sum + bytesHeld(t.layout, t.swarm.seed.have), 0),
  })

  return {
    scheduleDuration,
    totals: () => ({
      sourceBytes: sourceBytes.get(),
      fromSupernode: pieceBytes.get({ from: 'supernode' }),
      fromPeers: pieceBytes.get({ from: 'peer' }),
      backToSource: backToSource.get(),
    }),
    events: {
      sourceBytes: (n) => sourceBytes.inc({}, n),
      pieceDelivered: (from, n) => pieceBytes.inc({ from }, n),
      backToSource: (r) => {
        backToSource.inc()
        backToSourceBytes.inc({}, r.bytes)
      },
      taskCompleted: (_t, cached) => tasksFinished.inc({ result: cached ? 'cached' : 'complete' }),
      taskFailed: () => tasksFinished.inc({ result: 'failed' }),
      peerIsolated: () => isolations.inc(),
      cacheCollected: (r) => evictions.inc({}, r.removed.length),
    },
  }
}
