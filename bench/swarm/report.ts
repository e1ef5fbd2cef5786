import { FRAME_OVERHEAD, MSS } from './netns.ts'
import type { SystemName } from './systems/system.ts'
import type { TimelineSample } from './timeline.ts'

export interface LowerBound {
  seconds: number
  /** F/u_s: host 0 has to send every byte at least once. */
  seedUpload: number
  /** F/d: each peer has to receive every byte. */
  download: number
  /** N·F/(u_s + Σu_i): all N copies have to cross someone's uplink. */
  swarmUpload: number
}

/** max(F/u_s, F/d, N·F/(u_s + Σu_i)) with every link at `rateBytes` per second. */
export function lowerBound(fileBytes: number, rateBytes: number, peers: number): LowerBound {
  const seedUpload = fileBytes / rateBytes
  const download = fileBytes / rateBytes
  const swarmUpload = (peers * fileBytes) / (rateBytes + peers * rateBytes)
  return { seconds: Math.max(seedUpload, download, swarmUpload), seedUpload, download, swarmUpload }
}

export interface SystemResult {
  system: SystemName
  /** Files that exist and match the sha256, of `peers`. */
  delivered: number
  failures: string[]
  /** Slowest completion among the hosts that completed, seconds. */
  lastSeconds: number
  medianSeconds: number
  /** lastSeconds / the lower bound. */
  boundRatio: number
  /** Dragonfly: the longest `durationMs` a get reported (registration to verified file), seconds. */
  lastInnerSeconds?: number
  /** TCP payload out of host 0's link, in file sizes. */
  hostEgress: number
  /** Share of host 0's frames that its TCP had sent before: retransmissions less those its own queue's drops made necessary (approximate). */
  hostResent: number
  /** Body bytes the origin served, in file sizes (dragonfly, curl). */
  originEgress?: number
  /** TCP payload into the peers' links, in file sizes. */
  received: number
  /** (received - host 0's egress) / received: the share that can only have come from peers. */
  fromPeers: number
  /** Dragonfly: shares of the bytes as its gets report them. */
  reported?: {
    peers: number
    supernode: number
    source: number
    /** Bytes the gets took from the supernode, in file sizes. */
    supernodeCopies: number
  }
  /** Payload each uplink carried over the window, as a share of its rate: host 0's, and the peers' mean. */
  uplinkUse: { source: number; peers: number }
  /** Frames the links' queues dropped (tbf queue full). */
  drops: number
  /** `--timeline`: the links' payload per second while the system ran. */
  timeline?: TimelineSample[]
  cpu: {
    method: 'cgroup' | 'sampled'
    /** Every process of the system, set-up included, CPU seconds. */
    seconds: number
    /** Host 0's processes (origin, supernode, tracker, seeder). */
    sourceSeconds: number
    peersSeconds: number
    /** The kernel's part of `seconds` (system time; NaN when sampled). */
    systemSeconds: number
  }
  /** From the first client's start to the last completion. */
  window: {
    seconds: number
    /** Share of all cores busy, every process on the machine. */
    machineBusy: number
    /** Share of all cores this system's processes used. */
    ownBusy: number
    /** Share of all cores in softirq: mostly the kernel forwarding the bench's packets. */
    softirqBusy: number
    /** Share of all cores busy in the second before the system started, with nothing of the bench running: the machine's other load. */
    beforeBusy: number
  }
}

export interface NetnsBenchResult {
  options: { peers: number; sizeMiB: number; rate: string; queue: string; cc: string; systems: SystemName[]; dragonflyConfig?: string | undefined }
  fileBytes: number
  rateBitsPerSecond: number
  queueMs: number
  burstBytes: number
  cores: number
  /** Variables of the bench's environment its hosts' processes did not get. */
  unset: string[]
  bound: LowerBound
  systems: SystemResult[]
}

/** Busy share of all cores from which a transfer counts as CPU-bound. */
const CPU_BOUND = 0.9
/** Busy share of all cores outside the system's processes (during the transfer, or in the idle second before it) from which a run counts as disturbed. */
const DISTURBED = 0.25

/** The report as a table, one row per system, and a line for each system that was CPU-bound, disturbed or failed. */
export function formatNetnsReport(r: NetnsBenchResult): string {
  const s = (v: number): string => `${v.toFixed(2)} s`
  const x = (v: number): string => `${v.toFixed(2)}x`
  const pct = (v: number): string => `${(v * 100).toFixed(1)} %`
  const { bound: b, options: o } = r
  const lines = [
    `scenario     N=${o.peers} peers + host 0, ${o.sizeMiB} MiB, every link ${o.rate} each way (tbf, queue ${r.queueMs} ms, burst ${r.burstBytes} B), TCP ${o.cc}, ${r.cores} cores${o.dragonflyConfig ? `, dragonfly --config ${o.dragonflyConfig}` : ''}${r.unset.length ? `; ${r.unset.join(', ')} unset for the hosts' processes` : ''}`,
    `lower bound  ${s(b.seconds)} = max(F/u_s ${s(b.seedUpload)}, F/d ${s(b.download)}, N·F/(u_s+Σu_i) ${s(b.swarmUpload)}); TCP carries at most ${pct(MSS / (MSS + FRAME_OVERHEAD))} of a link as payload (${x((MSS + FRAME_OVERHEAD) / MSS)} bound at best)`,
    '',
  ]
  const head = [
    'system',
    'files',
    'last',
    'x bound',
    'median',
    'host-0 egress',
    'origin',
    'from peers',
    'uplink use 0/peers',
    'CPU s (host 0 + peers)',
    'busy (own; softirq; before)',
    'drops',
  ]
  const rows = r.systems.map((m) => [
    m.system,
    `${m.delivered}/${o.peers}`,
    s(m.lastSeconds),
    x(m.boundRatio),
    s(m.medianSeconds),
    m.hostResent >= 0.001 ? `${x(m.hostEgress)} (${pct(m.hostResent)} resent)` : x(m.hostEgress),
    m.originEgress === undefined ? '-' : x(m.originEgress),
    pct(m.fromPeers),
    `${(m.uplinkUse.source * 100).toFixed(0)} / ${(m.uplinkUse.peers * 100).toFixed(0)} %`,
    `${m.cpu.seconds.toFixed(1)} (${m.cpu.sourceSeconds.toFixed(1)} + ${m.cpu.peersSeconds.toFixed(1)})`,
    `${(m.window.machineBusy * 100).toFixed(0)} % (${(m.window.ownBusy * 100).toFixed(0)}; ${(m.window.softirqBusy * 100).toFixed(0)}; ${(m.window.beforeBusy * 100).toFixed(0)} %)`,
    String(m.drops),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  for (const row of [head, ...rows])
    lines.push(
      row
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
  for (const m of r.systems) {
    if (m.reported) {
      const inner = m.lastInnerSeconds === undefined ? '' : `; longest get durationMs ${s(m.lastInnerSeconds)} (${x(m.lastInnerSeconds / b.seconds)})`
      lines.push(
        `${m.system}: the gets report ${pct(m.reported.peers)} from peers, ${pct(m.reported.supernode)} from the supernode (${m.reported.supernodeCopies.toFixed(3)} copies), ${pct(m.reported.source)} from the source${inner}`,
      )
    }
    const gib = (m.received * r.fileBytes) / 2 ** 30
    if (gib > 0 && Number.isFinite(m.cpu.seconds)) {
      const sys = Number.isFinite(m.cpu.systemSeconds) ? ` (${(m.cpu.systemSeconds / gib).toFixed(1)} of it in the kernel)` : ''
      lines.push(`${m.system}: ${(m.cpu.seconds / gib).toFixed(1)} CPU s per GiB the peers received${sys}`)
    }
    if (m.window.machineBusy >= CPU_BOUND) {
      lines.push(
        `${m.system}: CPU-bound: the machine was ${pct(m.window.machineBusy)} busy during the transfer (this system ${pct(m.window.ownBusy)}): its times are not the links' alone`,
      )
    }
    const others = m.window.machineBusy - m.window.ownBusy - m.window.softirqBusy
    if (others >= DISTURBED || m.window.beforeBusy >= DISTURBED) {
      lines.push(
        `${m.system}: disturbed: ${pct(others)} of the machine went to other work during the transfer, ${pct(m.window.beforeBusy)} in the second before it`,
      )
    }
    if (m.failures.length) lines.push(`${m.system} FAILED: ${m.failures.join('; ')}`)
  }
  lines.push(
    "egress, from peers, uplink use: TCP payload on the links (tbf frames less 66 B of headers each; resent: host 0's TCP retransmissions less its own queue's drops, as a share of its frames); CPU: all of a system's processes, set-up included;",
    "busy: all cores, from the first client's start to the last completion (own: this system's processes; softirq: the kernel, mostly moving packets; before: the idle second before it started)",
  )
  return lines.join('\n')
}
