import { createMetricsRegistry, type MetricsRegistry } from '../metrics.ts'
import type { DownloadResult } from '../peer/download-types.ts'
import type { Peer } from '../peer/peer.ts'
import { bytesHeld } from '../protocol/piece-layout.ts'
import type { DownloadFlights } from './download-flights.ts'

export interface DaemonMetrics {
  registry: MetricsRegistry
  /** A piece this daemon served to another peer. */
  served(bytes: number): void
  downloadFinished(result: DownloadResult): void
  downloadFailed(): void
  /** Gauges read these at scrape time; set once the peer and flights exist. */
  bind(peer: Peer, flights: DownloadFlights): void
}

/** The daemon's `dragonfly_*` metrics: what it downloaded (and from whom), what it served, its cache. */
export function createDaemonMetrics(): DaemonMetrics {
  const registry = createMetricsRegistry()
  let bound: { peer: Peer; flights: DownloadFlights } | undefined
  const pieceBytes = registry.counter({
    name: 'dragonfly_piece_bytes_total',
    help: 'Bytes of finished downloads, by who served them (source = this daemon went back to the source).',
    initial: [{ from: 'supernode' }, { from: 'peer' }, { from: 'source' }],
  })
  const uploaded = registry.counter({ name: 'dragonfly_upload_bytes_total', help: 'Piece bytes this daemon served to other peers.' })
  const downloads = registry.counter({
    name: 'dragonfly_downloads_total',
    help: 'Downloads that ended, by result.',
    initial: [{ result: 'ok' }, { result: 'failed' }],
  })
  const backToSource = registry.counter({ name: 'dragonfly_back_to_source_total', help: 'Downloads this daemon fetched from the source itself.' })
  registry.gauge({
    name: 'dragonfly_tasks',
    help: 'Downloads the daemon holds, by state.',
    collect: () => {
      const count = { running: 0, done: 0 }
      for (const f of bound?.flights.flights.values() ?? []) count[f.result ? 'done' : 'running']++
      return Object.entries(count).map(([state, value]) => ({ labels: { state }, value }))
    },
  })
  registry.gauge({
    name: 'dragonfly_cache_bytes',
    help: 'Bytes of verified pieces in the daemon cache.',
    collect: () => [...(bound?.peer.tasks.values() ?? [])].reduce((sum, t) => sum + bytesHeld(t.layout, t.have), 0),
  })
  return {
    registry,
    served: (bytes) => uploaded.inc({}, bytes),
    downloadFinished: (r) => {
      downloads.inc({ result: 'ok' })
      pieceBytes.inc({ from: 'supernode' }, r.bytesFromSupernode)
      pieceBytes.inc({ from: 'peer' }, r.bytesFromPeers)
      pieceBytes.inc({ from: 'source' }, r.bytesFromSource)
      if (r.backToSource) backToSource.inc()
    },
    downloadFailed: () => downloads.inc({ result: 'failed' }),
    bind: (peer, flights) => void (bound = { peer, flights }),
  }
}
