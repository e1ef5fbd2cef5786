import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { Launcher } from '../bench/swarm/launch.ts'
import { netnsUnavailable } from '../bench/swarm/netns.ts'
import { runNetnsBench } from '../bench/swarm/netns-run.ts'
import { runSwarmBench } from '../bench/swarm/run.ts'

describe('bench/swarm --mode process: rate-limited peers through a supernode vs straight from the source', () => {
  it('every peer and every direct client ends with the verified file; P2P reads the source once, direct N times', async () => {
    const r = await runSwarmBench({ peers: 3, sizeMiB: 4, rate: '50MB' })
    expect(r.p2p.failures).toEqual([])
    expect(r.direct.failures).toEqual([])
    expect(r.p2p.sourceEgress).toBeCloseTo(1, 2)
    expect(r.direct.sourceEgress).toBeCloseTo(3, 2)
    const delivered = r.p2p.bytesFromPeers + r.p2p.bytesFromSupernode + r.p2p.bytesFromSource
    expect(delivered).toBe(3 * r.fileBytes)
    expect(r.direct.bytesFromSource).toBe(3 * r.fileBytes)
    expect(r.bound.seconds).toBeCloseTo(r.fileBytes / (50 * 2 ** 20), 6)
  })
})

describe('bench/swarm launcher', () => {
  it("leaves the variables it is told to unset out of a child's environment, and passes the others", async () => {
    process.env.DFNB_TEST_UNSET = 'set'
    process.env.DFNB_TEST_KEPT = 'kept'
    try {
      const launcher = new Launcher()
      const print = [process.execPath, '-e', 'console.log((process.env.DFNB_TEST_UNSET ?? "absent") + " " + process.env.DFNB_TEST_KEPT)']
      const child = launcher.start(print, { cwd: process.cwd(), unset: ['DFNB_TEST_UNSET'] })
      expect((await child.exited).stdout.trim()).toBe('absent kept')
      const plain = launcher.start(print, { cwd: process.cwd() })
      expect((await plain.exited).stdout.trim()).toBe('set kept')
    } finally {
      delete process.env.DFNB_TEST_UNSET
      delete process.env.DFNB_TEST_KEPT
    }
  })
})

// Namespaces, veths and tbf need root and iproute2 (CI runs as root); elsewhere the test says why it does not run.
const unavailable = netnsUnavailable()
if (unavailable) console.log(`bench-swarm netns test skipped: ${unavailable}`)

describe('bench/swarm --mode netns: dragonfly, aria2 and curl over kernel-shaped links', () => {
  it.skipIf(unavailable !== null)(
    'each system delivers N verified files; dragonfly reads the origin once, curl N times; the report has the bound and CPU',
    async () => {
      const systems = ['dragonfly', 'dragonfly-daemon', 'aria2', 'curl'] as const
      const r = await runNetnsBench({ peers: 3, sizeMiB: 4, rate: '100mbit', queue: '100ms', cc: 'cubic', systems: [...systems], timeline: true })
      const by = Object.fromEntries(r.systems.map((s) => [s.system, s]))
      for (const name of systems) {
        const s = by[name]!
        expect(s.failures, name).toEqual([])
        expect(s.delivered, name).toBe(3)
        expect(s.lastSeconds, name).toBeGreaterThan(0)
        expect(s.boundRatio, name).toBeCloseTo(s.lastSeconds / r.bound.seconds, 6)
        // Every peer received the file at least once over its link.
        expect(s.received, name).toBeGreaterThan(2.95)
        expect(s.cpu.seconds, name).toBeCloseTo(s.cpu.sourceSeconds + s.cpu.peersSeconds, 6)
        expect(Number.isFinite(s.cpu.seconds), name).toBe(true)
        expect(s.window.machineBusy, name).toBeGreaterThan(0)
        expect(s.window.machineBusy, name).toBeLessThanOrEqual(1.05)
      }
      // --timeline: periods timed from the clock's start (each sample's `at` is its period's end); the first began
      // before it, with the origin's and the supernode's start, and the peers' downlinks carried at least what the
      // report counts between the clock's start and end.
      const timeline = by.dragonfly!.timeline!
      expect(timeline.length).toBeGreaterThan(1)
      expect(timeline[0]!.at - timeline[0]!.seconds).toBeLessThan(0)
      for (const sample of timeline) expect(sample.seconds).toBeGreaterThan(0)
      const peerDown = timeline.reduce((sum, sample) => sum + sample.down.slice(1).reduce((a, b) => a + b, 0), 0)
      expect(peerDown).toBeGreaterThanOrEqual(by.dragonfly!.received * r.fileBytes * 0.999)
      // Three Node processes starting and verifying 4 MiB each: well over 0.1 CPU-s, whichever way it is counted.
      expect(by.dragonfly!.cpu.peersSeconds).toBeGreaterThan(0.1)
      expect(by.dragonfly!.originEgress).toBeGreaterThanOrEqual(1)
      expect(by.dragonfly!.originEgress).toBeLessThan(1.05)
      // Through the daemons' proxy (curl -x): the origin read once as well, and each daemon lists where its bytes came from.
      const daemon = by['dragonfly-daemon']!
      expect(daemon.originEgress).toBeGreaterThanOrEqual(1)
      expect(daemon.originEgress).toBeLessThan(1.05)
      expect(daemon.reported!.peers + daemon.reported!.supernode + daemon.reported!.source).toBeCloseTo(1, 6)
      expect(daemon.reported!.source).toBe(0)
      expect(by.curl!.originEgress).toBeCloseTo(3, 2)
      // On the wire: host 0 sent curl's three copies (payload less headers within a few per mille).
      expect(by.curl!.hostEgress).toBeGreaterThan(2.97)
      expect(by.curl!.hostEgress).toBeLessThan(3.05)
      expect(by.curl!.fromPeers).toBeLessThan(0.02)
      // Host 0's TCP retransmissions, read from its namespace: a share of its frames.
      for (const [name, s] of Object.entries(by)) {
        expect(s.hostResent, name).toBeGreaterThanOrEqual(0)
        expect(s.hostResent, name).toBeLessThan(0.5)
      }
      // This VM's NODE_EXTRA_CA_CERTS is kept from the hosts' processes, and the report says so.
      expect(r.unset).toEqual(process.env.NODE_EXTRA_CA_CERTS === undefined ? [] : ['NODE_EXTRA_CA_CERTS'])
      // 4 MiB at 100 Mbit/s each way: F/u_s = F/d = 0.34 s.
      expect(r.bound.seconds).toBeCloseTo(r.fileBytes / (100e6 / 8), 6)
      // Nothing of the run is left behind: its namespaces, and with them what ran in them, are gone.
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(new RegExp(`dfnb${process.pid}-`))
    },
  )
})
