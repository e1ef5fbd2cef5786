import { createHash } from 'node:crypto'
import { createReadStream, rmSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { writeBenchFile } from '../lib/origin.ts'
import { median } from '../lib/processes.ts'
import { type CpuGroup, createCpuGroup, machineCpu, sweepStaleGroups } from './cpu.ts'
import { Launcher } from './launch.ts'
import {
  createTopology,
  destroyTopology,
  diffCounters,
  inNamespace,
  isStale,
  netnsUnavailable,
  parseLinkRate,
  parseQueue,
  payloadBytes,
  readCounters,
  retransmittedSegments,
  sweepStaleNamespaces,
  type Topology,
} from './netns.ts'
import { lowerBound, type NetnsBenchResult, type SystemResult } from './report.ts'
import { runAria2 } from './systems/aria2.ts'
import { runCurl } from './systems/curl.ts'
import { runDragonfly } from './systems/dragonfly.ts'
import { runDragonflyDaemon } from './systems/dragonfly-daemon.ts'
import type { SystemContext, SystemName, SystemOutcome, SystemRunner } from './systems/system.ts'
import { sampleLinks, type TimelineSample } from './timeline.ts'

export interface NetnsBenchOptions {
  /** Peer hosts (N); host 0 comes on top. */
  peers: number
  sizeMiB: number
  /** Each direction of every link, as tc takes it (`20mbit`). */
  rate: string
  /** Queue depth of every link (`100ms` deep, `10ms` shallow). */
  queue: string
  /** TCP congestion control of every host. */
  cc: string
  /** A config file for dragonfly's supernode and gets (`--config`), to try settings. */
  dragonflyConfig?: string | undefined
  /** Run one after the other, in this order. */
  systems: SystemName[]
  /** Sample the links every second while each system runs (timeline.ts). */
  timeline?: boolean
}

export const SYSTEMS: Record<SystemName, SystemRunner> = { dragonfly: runDragonfly, 'dragonfly-daemon': runDragonflyDaemon, aria2: runAria2, curl: runCurl }
export const DEFAULT_NETNS_BENCH: NetnsBenchOptions = {
  peers: 8,
  sizeMiB: 16,
  rate: '20mbit',
  queue: '100ms',
  cc: 'cubic',
  systems: ['dragonfly', 'aria2', 'curl'],
}

let runCount = 0

/**
 * Left out of the environment of every process the systems start. This VM
 * sets NODE_EXTRA_CA_CERTS to the whole system bundle, which Node parses at
 * each start (0.06-0.07 CPU s: `node -e 0` takes 0.10 s with it, 0.02-0.03 s
 * without). No process here speaks TLS, curl and aria2 do not read it, and a
 * host that sets it usually names one certificate, not ~140: with 17-33
 * Node processes starting together on two cores it cost the swarm ~1 CPU s
 * at its start that no real fleet of hosts pays (bench/README.md).
 */
const UNSET_ENV = ['NODE_EXTRA_CA_CERTS'] as const

/**
 * Builds the shaped network (netns.ts), writes the file, then moves it from
 * host 0 to the N peer hosts with each system in turn, fresh caches and
 * fresh processes each time. Whatever it started is stopped and whatever it
 * made is removed at the end, on an error, and on SIGINT/SIGTERM.
 */
export async function runNetnsBench(options: NetnsBenchOptions): Promise<NetnsBenchResult> {
  const rateBits = parseLinkRate(options.rate)
  const queueMs = parseQueue(options.queue)
  if (!/^[a-z0-9_]+$/.test(options.cc)) throw new Error(`--cc takes a congestion control name (cubic, bbr, reno); got ${options.cc}`)
  const unavailable = netnsUnavailable()
  if (unavailable) throw new Error(unavailable)
  // What runs killed with SIGKILL left: their processes, namespaces, groups and files, all named dfnb<pid>-….
  sweepStaleNamespaces()
  sweepStaleGroups(isStale)
  for (const name of (await readdir(tmpdir())).filter(isStale)) await rm(join(tmpdir(), name), { recursive: true, force: true })
  const F = Math.round(options.sizeMiB * 2 ** 20)
  const prefix = `dfnb${process.pid}-${++runCount}`
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`))
  const launcher = new Launcher()
  const groups: CpuGroup[] = []
  let topo: Topology | undefined
  let cleaned = false
  const cleanup = (): void => {
    if (cleaned) return
    cleaned = true
    launcher.killAllNow()
    for (const g of groups) g.remove()
    if (topo) destroyTopology(topo)
    rmSync(dir, { recursive: true, force: true })
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanup()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.once('exit', cleanup)
  try {
    const file = join(dir, 'source', 'file.bin')
    await mkdir(join(dir, 'source'))
    await writeBenchFile(file, F)
    const sha256 = await sha256Of(file)
    topo = createTopology(prefix, options.peers + 1, { rateBits, queueMs, cc: options.cc })
    const bound = lowerBound(F, rateBits / 8, options.peers)
    const timeoutMs = 60_000 + 4 * options.peers * bound.seconds * 1000
    const results: SystemResult[] = []
    for (const system of options.systems) {
      const source = createCpuGroup(`${prefix}-${system}-source`)
      const peers = createCpuGroup(`${prefix}-${system}-peers`)
      groups.push(source, peers)
      results.push(
        await runSystem(
          system,
          {
            topo,
            launcher,
            source,
            peers,
            file,
            fileBytes: F,
            sha256,
            dir: join(dir, system),
            timeoutMs,
            dragonflyConfig: options.dragonflyConfig && resolve(options.dragonflyConfig),
            timeline: options.timeline === true,
          },
          bound.seconds,
        ),
      )
      await rm(join(dir, system), { recursive: true, force: true })
    }
    const unset = UNSET_ENV.filter((name) => process.env[name] !== undefined)
    return {
      options,
      fileBytes: F,
      rateBitsPerSecond: rateBits,
      queueMs,
      burstBytes: topo.burstBytes,
      cores: machineCpu().cores,
      unset,
      bound,
      systems: results,
    }
  } finally {
    await launcher.stopAll(1000)
    cleanup()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    process.off('exit', cleanup)
  }
}

interface RunSetup {
  topo: Topology
  launcher: Launcher
  source: CpuGroup
  peers: CpuGroup
  file: string
  fileBytes: number
  sha256: string
  dir: string
  timeoutMs: number
  dragonflyConfig?: string | undefined
  timeline: boolean
}

interface Snapshot {
  at: number
  busy: number
  softirq: number
  own: number
}

async function runSystem(system: SystemName, setup: RunSetup, boundSeconds: number): Promise<SystemResult> {
  const { topo, launcher, source, peers, fileBytes: F } = setup
  const rateBytes = topo.shape.rateBits / 8
  await mkdir(setup.dir, { recursive: true })
  const snapshot = (): Snapshot => {
    const machine = machineCpu()
    return { at: Date.now(), busy: machine.busySeconds, softirq: machine.softirqSeconds, own: source.cpuSeconds() + peers.cpuSeconds() }
  }
  let start: Snapshot | undefined
  let end: Snapshot | undefined
  const ctx: SystemContext = {
    source: topo.hosts[0]!,
    peers: topo.hosts.slice(1),
    file: setup.file,
    fileBytes: F,
    sha256: setup.sha256,
    dir: setup.dir,
    launcher,
    timeoutMs: setup.timeoutMs,
    ...(setup.dragonflyConfig ? { dragonflyConfig: setup.dragonflyConfig } : {}),
    start: (host, argv, cwd = setup.dir) => launcher.start(inNamespace(host, argv), { cwd, group: host.index === 0 ? source : peers, unset: UNSET_ENV }),
    markStart: () => {
      start = snapshot()
    },
    markEnd: () => {
      end = snapshot()
    },
  }
  const beforeBusy = await idleBusy(1000)
  const before = readCounters(topo)
  const retransBefore = retransmittedSegments(topo.hosts[0]!)
  let outcome: SystemOutcome
  const sampler = setup.timeline ? sampleLinks(topo) : undefined
  let timeline: TimelineSample[] | undefined
  try {
    outcome = await SYSTEMS[system](ctx)
  } finally {
    timeline = sampler?.stop(start?.at)
    // Whatever the system left running is not part of the next one.
    await launcher.stopAll()
  }
  const after = readCounters(topo)
  const retransmits = retransmittedSegments(topo.hosts[0]!) - retransBefore
  const cpu = {
    method: source.method,
    seconds: 0,
    sourceSeconds: source.cpuSeconds(),
    peersSeconds: peers.cpuSeconds(),
    systemSeconds: source.systemSeconds() + peers.systemSeconds(),
  }
  cpu.seconds = cpu.sourceSeconds + cpu.peersSeconds
  source.remove()
  peers.remove()

  const failures: string[] = []
  const seconds: number[] = []
  for (const h of outcome.hosts) {
    if (h.failure || h.seconds === null) failures.push(`host ${h.host}: ${h.failure ?? 'no completion'}`)
    else if ((await sha256Of(h.output).catch(() => 'missing')) !== setup.sha256) failures.push(`host ${h.host}: ${h.output} does not match the sha256`)
    else seconds.push(h.seconds)
  }
  const up = after.up.map((c, i) => diffCounters(c, before.up[i]!))
  const down = after.down.map((c, i) => diffCounters(c, before.down[i]!))
  const hostOut = payloadBytes(up[0]!)
  const received = down.slice(1).reduce((sum, c) => sum + payloadBytes(c), 0)
  const drops = [...up, ...down].reduce((sum, c) => sum + c.drops, 0)
  const from = outcome.hosts.reduce(
    (t, h) => ({ peers: t.peers + (h.from?.peers ?? 0), supernode: t.supernode + (h.from?.supernode ?? 0), source: t.source + (h.from?.source ?? 0) }),
    { peers: 0, supernode: 0, source: 0 },
  )
  const fromTotal = from.peers + from.supernode + from.source
  const inner = outcome.hosts.flatMap((h) => (h.innerSeconds === undefined ? [] : [h.innerSeconds]))
  const last = seconds.length ? Math.max(...seconds) : Number.NaN
  const windowSeconds = start && end ? (end.at - start.at) / 1000 : Number.NaN
  const cores = machineCpu().cores
  return {
    system,
    delivered: seconds.length,
    failures,
    lastSeconds: last,
    medianSeconds: seconds.length ? median(seconds) : Number.NaN,
    boundRatio: last / boundSeconds,
    ...(inner.length ? { lastInnerSeconds: Math.max(...inner) } : {}),
    hostEgress: hostOut / F,
    // A segment that host 0's own queue dropped was never counted on its link; its retransmission takes its place.
    // The other retransmissions (lost farther on, in a peer's downlink, or sent again needlessly) crossed it twice.
    hostResent: up[0]!.packets > 0 ? Math.max(0, retransmits - up[0]!.drops) / up[0]!.packets : 0,
    ...(outcome.originBytes === undefined ? {} : { originEgress: outcome.originBytes / F }),
    received: received / F,
    fromPeers: received > 0 ? Math.max(0, received - hostOut) / received : 0,
    ...(fromTotal > 0
      ? {
          reported: {
            peers: from.peers / fromTotal,
            supernode: from.supernode / fromTotal,
            source: from.source / fromTotal,
            supernodeCopies: from.supernode / F,
          },
        }
      : {}),
    uplinkUse: {
      source: hostOut / (rateBytes * windowSeconds),
      peers: up.slice(1).reduce((sum, c) => sum + payloadBytes(c), 0) / (rateBytes * windowSeconds * (topo.hosts.length - 1)),
    },
    drops,
    cpu,
    ...(timeline ? { timeline } : {}),
    window: {
      seconds: windowSeconds,
      machineBusy: start && end ? (end.busy - start.busy) / (cores * windowSeconds) : Number.NaN,
      ownBusy: start && end ? (end.own - start.own) / (cores * windowSeconds) : Number.NaN,
      softirqBusy: start && end ? (end.softirq - start.softirq) / (cores * windowSeconds) : Number.NaN,
      beforeBusy,
    },
  }
}

/** Share of all cores busy over the next `ms`. */
async function idleBusy(ms: number): Promise<number> {
  const a = machineCpu()
  const t = Date.now()
  await sleep(ms)
  return (machineCpu().busySeconds - a.busySeconds) / (a.cores * ((Date.now() - t) / 1000))
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
