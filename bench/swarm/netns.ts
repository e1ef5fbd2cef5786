import { execFileSync } from 'node:child_process'

/**
 * Hosts on one switch, each link shaped by the kernel: every host is a
 * network namespace with one veth (`eth0`); its other end (`h<i>`) is a port
 * of a bridge that lives in a namespace of its own, so nothing of the run
 * touches the machine's own namespace and no packet can leave: the only
 * addresses are the bench's 10.201.0.x/24.
 *
 * Both directions are shaped on the switch side, as a router would: the
 * downlink is a token-bucket filter on the egress of `h<i>`, the uplink one
 * on an ifb (`u<i>`) that the ingress of `h<i>` is redirected to. The host's
 * own `eth0` has no queue, so its TCP learns of congestion from the network
 * (losses, delay), not from a local qdisc: with the uplink's tbf on `eth0`
 * itself, TCP small queues and local drops changed the senders' behaviour
 * (with 10 ms queues one of 8 curl flows from host 0 stalled in zero-window
 * probes for a minute and was reset). The tbf's `latency` is the queue
 * depth; a frame that would wait longer is dropped.
 *
 * Every host uses one TCP congestion control (`--cc`, set on the subnet's
 * route), so a run does not depend on the machine's default (bbr here).
 */

export interface LinkShape {
  /** Bits per second, each direction of every host's link. */
  rateBits: number
  /** Longest a frame may wait in a link's queue (tbf `latency`), ms. */
  queueMs: number
  /** TCP congestion control of every host (`cubic`, `bbr`, `reno`). */
  cc: string
}

export interface NetHost {
  index: number
  /** Network namespace name. */
  ns: string
  ip: string
}

export interface Topology {
  prefix: string
  switchNs: string
  hosts: NetHost[]
  shape: LinkShape
  /** tbf burst, bytes. */
  burstBytes: number
}

/** Frames and bytes a tbf sent (bytes are whole frames, Ethernet header included), and the frames it dropped. */
export interface LinkCounters {
  bytes: number
  packets: number
  drops: number
}

const SUBNET = '10.201.0'
/** Ethernet + IPv4 + TCP headers with the timestamp option Linux sends by default: a full frame carries 1448 of 1514 bytes. */
export const FRAME_OVERHEAD = 66
/** TCP payload of a full-size segment on these links (1500 B MTU, timestamps on). */
export const MSS = 1448
/** Namespaces of this bench are `dfnb<pid>-…`: a later run can tell whether their owner still lives. */
const NAME = /^dfnb(\d+)-/

export function parseLinkRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i.exec(text.trim())
  const unit = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[(m?.[2] ?? '').toLowerCase() as 'bit']
  if (!m || !unit || !(Number(m[1]) > 0)) throw new Error(`--rate takes a tc rate such as 20mbit, 500kbit, 1gbit (SI units, bits/s); got ${text}`)
  return Number(m[1]) * unit
}

export function parseQueue(text: string): number {
  const m = /^(\d+(?:\.\d+)?)ms$/.exec(text.trim())
  if (!m || !(Number(m[1]) > 0)) throw new Error(`--queue takes a queue depth in ms, e.g. 100ms (deep) or 10ms (shallow); got ${text}`)
  return Number(m[1])
}

/** Why shaped namespaces cannot be made here, or null when they can (tries one, with a veth, a bridge and a tbf). */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux'
  if (process.getuid?.() !== 0) return 'network namespaces need root'
  const probe = `dfnb${process.pid}-probe`
  try {
    run('ip', ['netns', 'add', probe])
    run('ip', ['-n', probe, 'link', 'add', 'name', 'v0', 'type', 'veth', 'peer', 'name', 'v1'])
    run('ip', ['-n', probe, 'link', 'add', 'name', 'br0', 'type', 'bridge'])
    run('ip', ['-n', probe, 'link', 'add', 'name', 'u0', 'type', 'ifb'])
    run('tc', ['-n', probe, 'qdisc', 'add', 'dev', 'v0', 'root', 'tbf', 'rate', '1mbit', 'burst', '15000', 'latency', '10ms'])
    run('tc', ['-n', probe, 'qdisc', 'add', 'dev', 'v0', 'handle', 'ffff:', 'ingress'])
    run('tc', ['-n', probe, 'filter', 'add', 'dev', 'v0', ...REDIRECT, 'u0'])
    return null
  } catch (error) {
    return `cannot make a shaped network namespace (${describe(error)})`
  } finally {
    deleteNamespace(probe)
  }
}

/** Bridge netfilter switches, per network namespace. */
const BRIDGE_NF = ['bridge-nf-call-iptables', 'bridge-nf-call-ip6tables', 'bridge-nf-call-arptables']

/** Every frame entering a port, to its ifb (u32 and mirred are in more kernels than matchall). */
const REDIRECT = ['parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev']

/** Host 0 and `hostCount - 1` more, on one bridge, every link shaped both ways. Undoes what it made if a step fails. */
export function createTopology(prefix: string, hostCount: number, shape: LinkShape): Topology {
  if (hostCount > 250) throw new Error('at most 249 peers (one /24)')
  // Ten full frames, or a millisecond at the rate: a smaller bucket cannot pass one 1514-byte frame per timer tick.
  const burstBytes = Math.max(15_140, Math.ceil(shape.rateBits / 8 / 1000))
  const hosts = Array.from({ length: hostCount }, (_, index) => ({ index, ns: `${prefix}-h${index}`, ip: `${SUBNET}.${index + 1}` }))
  const topo: Topology = { prefix, switchNs: `${prefix}-sw`, hosts, shape, burstBytes }
  const sw = topo.switchNs
  const tbf = ['root', 'tbf', 'rate', `${shape.rateBits}bit`, 'burst', String(burstBytes), 'latency', `${shape.queueMs}ms`]
  try {
    run('ip', ['netns', 'add', sw])
    run('ip', ['-n', sw, 'link', 'add', 'name', 'br0', 'type', 'bridge'])
    // No IPv6 link-local addresses: no router solicitations or DAD frames in the counters.
    run('ip', ['-n', sw, 'link', 'set', 'br0', 'addrgenmode', 'none', 'up'])
    // A switch forwards frames; it does not run the machine's firewall. With br_netfilter loaded (Docker loads it)
    // every bridged frame went through iptables' hooks: ~6 % of all CPU samples in a 16-peer run, charged to whichever
    // process the softirq interrupted. `-e`: without br_netfilter the keys do not exist, and nothing needs turning off.
    run('ip', ['netns', 'exec', sw, 'sysctl', '-e', '-q', '-w', ...BRIDGE_NF.map((key) => `net.bridge.${key}=0`)])
    for (const h of hosts) {
      const port = `h${h.index}`
      const up = `u${h.index}`
      run('ip', ['netns', 'add', h.ns])
      run('ip', ['link', 'add', 'name', 'eth0', 'netns', h.ns, 'type', 'veth', 'peer', 'name', port, 'netns', sw])
      run('ip', ['-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'])
      run('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'addrgenmode', 'none', 'up'])
      run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up'])
      // Per route, not the namespace's default: outside the first namespace the sysctl only takes the machine's allowed list (reno, bbr here).
      run('ip', ['-n', h.ns, 'route', 'replace', `${SUBNET}.0/24`, 'dev', 'eth0', 'congctl', shape.cc])
      run('ip', ['-n', sw, 'link', 'add', 'name', up, 'type', 'ifb'])
      run('ip', ['-n', sw, 'link', 'set', up, 'up'])
      run('ip', ['-n', sw, 'link', 'set', port, 'addrgenmode', 'none', 'master', 'br0', 'up'])
      run('tc', ['-n', sw, 'qdisc', 'add', 'dev', port, ...tbf])
      run('tc', ['-n', sw, 'qdisc', 'add', 'dev', up, ...tbf])
      run('tc', ['-n', sw, 'qdisc', 'add', 'dev', port, 'handle', 'ffff:', 'ingress'])
      run('tc', ['-n', sw, 'filter', 'add', 'dev', port, ...REDIRECT, up])
    }
  } catch (error) {
    destroyTopology(topo)
    throw new Error(`could not build the bench network: ${describe(error)}`)
  }
  return topo
}

/** Kills whatever still runs in the namespaces and deletes them (their veths and the bridge go with them). Never throws. */
export function destroyTopology(topo: Topology): void {
  for (const ns of [...topo.hosts.map((h) => h.ns), topo.switchNs]) deleteNamespace(ns)
}

/** Deletes namespaces left by bench runs whose process is gone (a run killed with SIGKILL cannot clean up); returns their names. */
export function sweepStaleNamespaces(): string[] {
  const stale = listNamespaces().filter(isStale)
  for (const ns of stale) deleteNamespace(ns)
  return stale
}

/** Whether a name is one of this bench's (`dfnb<pid>-…`) and its process is gone. */
export function isStale(name: string): boolean {
  const pid = Number(NAME.exec(name)?.[1])
  return pid > 0 && pid !== process.pid && !alive(pid)
}

/** argv that runs `argv` inside host's namespace (`ip netns exec` execs it: the pid stays the same). */
export function inNamespace(host: NetHost, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', host.ns, ...argv]
}

/** What each host's uplink (`up[i]`) and downlink (`down[i]`) have sent so far. */
export function readCounters(topo: Topology): { up: LinkCounters[]; down: LinkCounters[] } {
  const qdiscs = JSON.parse(run('tc', ['-n', topo.switchNs, '-s', '-j', 'qdisc', 'show'])) as ({ kind: string; dev: string } & LinkCounters)[]
  const tbf = (dev: string): LinkCounters => {
    const q = qdiscs.find((d) => d.dev === dev && d.kind === 'tbf')
    if (!q) throw new Error(`no tbf on ${dev} in ${topo.switchNs}`)
    return { bytes: q.bytes, packets: q.packets, drops: q.drops }
  }
  return { up: topo.hosts.map((h) => tbf(`u${h.index}`)), down: topo.hosts.map((h) => tbf(`h${h.index}`)) }
}

/**
 * Segments host's TCP retransmitted so far (`RetransSegs` of its namespace's
 * /proc/net/snmp): a queue that drops makes a sender put some bytes on its
 * link twice, which the tbf counts as egress like any other.
 */
export function retransmittedSegments(host: NetHost): number {
  const lines = run('ip', ['netns', 'exec', host.ns, 'cat', '/proc/net/snmp'])
    .split('\n')
    .filter((line) => line.startsWith('Tcp:'))
  const names = lines[0]?.split(/\s+/) ?? []
  const values = lines[1]?.split(/\s+/) ?? []
  const at = names.indexOf('RetransSegs')
  const n = at > 0 ? Number(values[at]) : Number.NaN
  if (!Number.isFinite(n)) throw new Error(`no RetransSegs in ${host.ns}'s /proc/net/snmp`)
  return n
}

/** TCP payload in `c`: the frames' bytes less their headers (the tbf counts segments, GSO or not). */
export function payloadBytes(c: LinkCounters): number {
  return Math.max(0, c.bytes - c.packets * FRAME_OVERHEAD)
}

export function diffCounters(after: LinkCounters, before: LinkCounters): LinkCounters {
  return { bytes: after.bytes - before.bytes, packets: after.packets - before.packets, drops: after.drops - before.drops }
}

function deleteNamespace(ns: string): void {
  try {
    for (const pid of run('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL')
      } catch {}
    }
  } catch {}
  try {
    run('ip', ['netns', 'del', ns])
  } catch {}
}

function listNamespaces(): string[] {
  try {
    return run('ip', ['netns', 'list'])
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((ns) => NAME.test(ns))
  } catch {
    return []
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function describe(error: unknown): string {
  const e = error as { code?: string; path?: string; stderr?: string; message?: string }
  if (e.code === 'ENOENT') return `${e.path} not found: install iproute2`
  return (e.stderr?.trim() || e.message || String(error)).split('\n')[0]!
}
