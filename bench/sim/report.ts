import { quantile } from '../lib/proc-stats.ts'
import { gbps } from './scenario.ts'
import type { SimResult } from './simulate.ts'
import type { RequestKind } from './supernode-core.ts'

export interface SimReport {
  protocol: 'parents' | 'pull'
  peers: number
  fileBytes: number
  pieceSize: number
  pieceCount: number
  completed: number
  churned: number
  /** Download durations (completion - arrival) of peers that finished, seconds. */
  completion: { p50: number; p99: number; max: number }
  bound: { seconds: number; seedUpload: number; slowestDownload: number; swarmUpload: number; source: number | null }
  ratio: { p50: number; p99: number; max: number }
  /** Bytes the supernode uploaded, in file sizes. */
  seedEgress: number
  peerShare: number
  /** Share of peer-served bytes from the same rack, zone, region. */
  locality: { rack: number; zone: number; region: number }
  /** Bytes moved on the wire (incl. cancelled duplicates) over bytes stored. */
  wireOverhead: number
  pull: { calls: number; emptyShare: number; meanUs: number; p99Us: number; piecesPerCpuSecond: number; cpuSeconds: number; wakeups: number }
  /** The supernode's core as the cost model charged it (all 0 with `--uncharged`). */
  supernode: {
    /** Modelled CPU over the run: the run has one task, so this is also its CPU per task. */
    cpuSeconds: number
    cpuSecondsPerGiB: number
    cpuSecondsPerPeer: number
    /** Busy time over the time until the last peer finished. */
    busyShare: number
    requests: Record<RequestKind, number>
    results: number
    assignments: number
    /** Seconds pulls waited for the core, and registrations. */
    pullWait: { p50: number; p99: number; max: number }
    registerWait: { p50: number; p99: number }
    /** Peers it expired while alive (heartbeats queued too long) that registered again. */
    rejoins: number
  }
  wallSeconds: number
  events: number
}

/**
 * Lower bound on a download's duration: no peer beats its own downlink, the
 * seed must upload every byte at least once, the whole swarm cannot receive
 * N copies faster than all uplinks together send them, and (cold cache) the
 * last piece cannot leave the supernode before the origin delivered it.
 */
export function lowerBound(result: SimResult): SimReport['bound'] {
  const { options, layout, peers } = result
  const F = layout.contentLength
  const us = gbps(options.supernodeGbps)
  const seedUpload = F / us
  const slowestDownload = F / Math.min(...peers.map((p) => p.spec.down))
  const swarmUpload = (peers.length * F) / (us + peers.reduce((s, p) => s + p.spec.up, 0))
  const source = options.sourceGbps === null ? null : F / gbps(options.sourceGbps)
  return { seconds: Math.max(seedUpload, slowestDownload, swarmUpload, source ?? 0), seedUpload, slowestDownload, swarmUpload, source }
}

export function buildReport(result: SimResult): SimReport {
  const { layout, peers, meter } = result
  const F = layout.contentLength
  const durations = peers.filter((p) => p.state === 'done').map((p) => p.doneAt - p.spec.arrival)
  durations.sort((a, b) => a - b)
  const q = (f: number): number => durations[Math.min(durations.length - 1, Math.floor(f * durations.length))] ?? NaN
  const completion = { p50: q(0.5), p99: q(0.99), max: durations[durations.length - 1] ?? NaN }
  const bound = lowerBound(result)
  const stored = result.seedEgress + result.bytesFromPeers
  const { core } = result
  const cpu = core.busySeconds
  const [, region = 0, zone = 0, rack = 0] = result.peerBytesByLocality
  const fromPeers = result.bytesFromPeers || 1
  return {
    protocol: result.options.protocol,
    peers: peers.length,
    fileBytes: F,
    pieceSize: layout.pieceSize,
    pieceCount: layout.pieceCount,
    completed: durations.length,
    churned: peers.filter((p) => p.state === 'gone').length,
    completion,
    bound,
    ratio: { p50: completion.p50 / bound.seconds, p99: completion.p99 / bound.seconds, max: completion.max / bound.seconds },
    seedEgress: result.seedEgress / F,
    peerShare: stored === 0 ? 0 : result.bytesFromPeers / stored,
    locality: { rack: rack / fromPeers, zone: (zone + rack) / fromPeers, region: (region + zone + rack) / fromPeers },
    wireOverhead: stored === 0 ? 0 : result.wireBytes / stored,
    pull: {
      calls: meter.calls,
      emptyShare: meter.calls === 0 ? 0 : meter.empty / meter.calls,
      meanUs: meter.meanUs,
      p99Us: meter.quantileUs(0.99),
      piecesPerCpuSecond: meter.piecesPerCpuSecond,
      cpuSeconds: meter.totalMs / 1000,
      wakeups: result.wakeups,
    },
    supernode: {
      cpuSeconds: cpu,
      cpuSecondsPerGiB: stored === 0 ? 0 : cpu / (stored / 2 ** 30),
      cpuSecondsPerPeer: cpu / peers.length,
      busyShare: result.makespan === 0 ? 0 : cpu / result.makespan,
      requests: { ...core.requests },
      results: core.results,
      assignments: core.assignments,
      pullWait: { p50: quantile(core.pullWaits, 0.5), p99: quantile(core.pullWaits, 0.99), max: quantile(core.pullWaits, 1) },
      registerWait: { p50: quantile(core.registerWaits, 0.5), p99: quantile(core.registerWaits, 0.99) },
      rejoins: result.rejoins,
    },
    wallSeconds: result.wallMs / 1000,
    events: result.events,
  }
}

export function formatReport(r: SimReport, describe: string): string {
  const s = (x: number): string => `${x.toFixed(2)} s`
  const pct = (x: number): string => `${(x * 100).toFixed(1)} %`
  const x = (v: number): string => `${v.toFixed(2)}x`
  const rows: [string, string][] = [
    ['scenario', describe],
    ['file', `${(r.fileBytes / 2 ** 20).toFixed(0)} MiB = ${r.pieceCount} pieces of ${(r.pieceSize / 2 ** 20).toFixed(2)} MiB`],
    ['peers', `${r.peers} (${r.completed} completed, ${r.churned} churned)`],
    ['completion p50', `${s(r.completion.p50)}  (${x(r.ratio.p50)} bound)`],
    ['completion p99', `${s(r.completion.p99)}  (${x(r.ratio.p99)} bound)`],
    ['completion max', `${s(r.completion.max)}  (${x(r.ratio.max)} bound)`],
    [
      'lower bound',
      `${s(r.bound.seconds)} = max(F/u_s ${s(r.bound.seedUpload)}, F/d_min ${s(r.bound.slowestDownload)}, N·F/(u_s+Σu_i) ${s(r.bound.swarmUpload)}${r.bound.source === null ? '' : `, F/source ${s(r.bound.source)}`})`,
    ],
    ['seed egress', `${x(r.seedEgress)} file`],
    ['bytes from peers', pct(r.peerShare)],
    ['peer bytes local', `rack ${pct(r.locality.rack)}, zone ${pct(r.locality.zone)}, region ${pct(r.locality.region)}`],
    ['wire / stored', x(r.wireOverhead)],
    [`${r.protocol === 'parents' ? 'Swarm.sync' : 'pull'} calls`, `${r.pull.calls} (${pct(r.pull.emptyShare)} empty, ${r.pull.wakeups} long-poll wake-ups)`],
    [
      `${r.protocol === 'parents' ? 'sync' : 'pull'} CPU measured`,
      `mean ${r.pull.meanUs.toFixed(1)} µs, p99 ${r.pull.p99Us.toFixed(1)} µs, total ${s(r.pull.cpuSeconds)}`,
    ],
    ['pieces / CPU-s', Math.round(r.pull.piecesPerCpuSecond).toLocaleString('en-US')],
    ...supernodeRows(r.supernode, s, pct),
    ['wall time', `${s(r.wallSeconds)} (${r.events.toLocaleString('en-US')} events)`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

function supernodeRows(sn: SimReport['supernode'], s: (x: number) => string, pct: (x: number) => string): [string, string][] {
  const n = (x: number): string => x.toLocaleString('en-US')
  const ms = (x: number): string => `${(x * 1000).toFixed(1)} ms`
  const q = sn.requests
  const verdict = sn.busyShare >= 0.9 ? ': SUPERNODE-BOUND' : ''
  return [
    [
      'supernode requests',
      `${n(q.register)} register, ${n(q.sync)} sync (${n(q.syncWake)} held reruns), ${n(q.pull)} pull, ${n(q.wake)} long-poll reruns, ${n(q.heartbeat)} heartbeat, ${n(q.leave)} leave; ${n(sn.results)} results, ${n(sn.assignments)} assignments`,
    ],
    ['supernode CPU', `${s(sn.cpuSeconds)} for the task = ${s(sn.cpuSecondsPerGiB)} per GiB delivered = ${ms(sn.cpuSecondsPerPeer)} per peer`],
    ['supernode core busy', `${pct(sn.busyShare)} of the run${verdict}`],
    [
      'pull/sync queueing',
      `p50 ${ms(sn.pullWait.p50)}, p99 ${ms(sn.pullWait.p99)}, max ${ms(sn.pullWait.max)} (register p50 ${ms(sn.registerWait.p50)}, p99 ${ms(sn.registerWait.p99)})`,
    ],
    ...(sn.rejoins > 0 ? [['expired alive', `${n(sn.rejoins)} peers registered again`] as [string, string]] : []),
  ]
}
