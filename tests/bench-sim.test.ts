import { describe, expect, it } from 'vitest'
import { EventQueue } from '../bench/sim/event-queue.ts'
import { createHost, Network, type Sharing, type Transfer } from '../bench/sim/network.ts'
import { buildReport } from '../bench/sim/report.ts'
import { DEFAULT_SIM_OPTIONS } from '../bench/sim/scenario.ts'
import { simulate } from '../bench/sim/simulate.ts'
import { FREE_COST_MODEL, type SupernodeCostModel } from '../bench/sim/supernode-core.ts'

const tiny = { ...DEFAULT_SIM_OPTIONS, protocol: 'pull' as const, peers: 50, sizeMiB: 16 }

describe('bench/sim --protocol pull on the real Swarm and scheduler', () => {
  it('every peer completes, no faster than the lower bound, the seed serves the file at least once', () => {
    const result = simulate({ ...tiny, late: 0.2 })
    for (const peer of result.peers) expect(peer.doneAt - peer.spec.arrival).toBeGreaterThanOrEqual(result.layout.contentLength / peer.spec.down)
    const report = buildReport(result)
    expect(report.completed).toBe(50)
    expect(report.seedEgress).toBeGreaterThanOrEqual(1)
    // Each peer's duration is bounded by its own link; the slowest is bounded by the formula.
    expect(report.completion.max).toBeGreaterThanOrEqual(report.bound.seconds)
    expect(report.peerShare).toBeGreaterThan(0.5)
    expect(report.pull.calls).toBeGreaterThan(0)
  })

  it('peers that do not churn complete while others leave or go silent', () => {
    const result = simulate({ ...tiny, churn: 0.2, seed: 7 })
    const churned = result.peers.filter((p) => p.spec.leaveAt !== null)
    expect(churned.length).toBeGreaterThan(0)
    for (const peer of result.peers) {
      if (peer.spec.leaveAt === null) expect(peer.state).toBe('done')
      else expect(peer.state).toBe('gone')
    }
    const report = buildReport(result)
    expect(report.completed).toBe(50 - churned.length)
    expect(report.seedEgress).toBeGreaterThanOrEqual(1)
    expect(report.completion.max).toBeGreaterThanOrEqual(report.bound.seconds)
  })

  it('is deterministic for a given seed', () => {
    const a = buildReport(simulate({ ...tiny, peers: 20, seed: 3, churn: 0.1 }))
    const b = buildReport(simulate({ ...tiny, peers: 20, seed: 3, churn: 0.1 }))
    expect(b.completion).toEqual(a.completion)
    expect(b.seedEgress).toBe(a.seedEgress)
    expect(b.pull.calls).toBe(a.pull.calls)
    expect(b.supernode).toEqual(a.supernode)
  })
})

describe('bench/sim charges the supernode its time per request', () => {
  const model: SupernodeCostModel = { requestUs: 400, registerUs: 1500, resultUs: 20, assignmentUs: 35, rerunUs: 60, syncUs: 0, syncPieceUs: 0 }

  it('charges each request served its modelled cost and reports it per task, per GiB and as a busy share', () => {
    const result = simulate({ ...tiny, cost: model, rttMs: 1 })
    const r = buildReport(result)
    const sn = r.supernode
    const q = sn.requests
    expect(r.completed).toBe(50)
    expect(q.register).toBe(50)
    // Every peer got every piece handed out at least once; the scheduler's own count agrees with the core's.
    expect(sn.assignments).toBeGreaterThanOrEqual(50 * r.pieceCount)
    expect(sn.assignments).toBe(result.meter.assigned)
    expect(sn.results).toBeGreaterThanOrEqual(50 * r.pieceCount)
    const requests = q.register + q.pull + q.heartbeat + q.leave
    const expected =
      (requests * model.requestUs +
        q.register * model.registerUs +
        q.wake * model.rerunUs +
        sn.results * model.resultUs +
        sn.assignments * model.assignmentUs) /
      1e6
    expect(sn.cpuSeconds).toBeGreaterThan(0)
    expect(sn.cpuSeconds).toBeCloseTo(expected, 9)
    expect(sn.cpuSecondsPerPeer).toBeCloseTo(sn.cpuSeconds / 50, 12)
    expect(sn.cpuSecondsPerGiB).toBeGreaterThan(sn.cpuSeconds)
    expect(sn.busyShare).toBeGreaterThan(0)
    expect(sn.busyShare).toBeLessThanOrEqual(1)
    expect(sn.pullWait.p99).toBeGreaterThan(0)
  })

  it('serves requests one at a time in arrival order: the 50 registrations sent at once queue behind each other', () => {
    const result = simulate({ ...tiny, cost: model, rttMs: 1 })
    const registerSeconds = (model.requestUs + model.registerUs) / 1e6
    // The k-th registration waits for the k before it; pulls, sent later, queue behind all of them.
    expect(Math.max(...result.core.registerWaits)).toBeCloseTo(49 * registerSeconds, 9)
    expect(buildReport(result).completion.max).toBeGreaterThan(50 * registerSeconds)
  })

  it('finishes later than with the supernode uncharged (no CPU, no round trip)', () => {
    const charged = buildReport(simulate({ ...tiny, cost: model, rttMs: 1 }))
    const free = buildReport(simulate({ ...tiny, cost: FREE_COST_MODEL, rttMs: 0 }))
    expect(free.supernode.cpuSeconds).toBe(0)
    expect(free.supernode.pullWait.max).toBe(0)
    expect(charged.completion.p50).toBeGreaterThan(free.completion.p50)
    expect(charged.completion.p99).toBeGreaterThan(free.completion.p99)
    // A round trip alone, with the core free, also delays completion.
    const rttOnly = buildReport(simulate({ ...tiny, cost: FREE_COST_MODEL, rttMs: 5 }))
    expect(rttOnly.supernode.cpuSeconds).toBe(0)
    expect(rttOnly.completion.p50).toBeGreaterThan(free.completion.p50)
  })
})

describe('bench/sim on the parents protocol (the default)', () => {
  const small = { ...DEFAULT_SIM_OPTIONS, peers: 30, sizeMiB: 8 }

  it('every peer completes through Swarm.sync, the supernode sends about one copy, peers serve the rest', () => {
    const r = buildReport(simulate(small))
    expect(r.protocol).toBe('parents')
    expect(r.completed).toBe(30)
    expect(r.seedEgress).toBeGreaterThanOrEqual(1)
    expect(r.seedEgress).toBeLessThan(1.3)
    expect(r.peerShare).toBeGreaterThan(0.9)
    expect(r.completion.max).toBeGreaterThanOrEqual(r.bound.seconds)
    const q = r.supernode.requests
    expect(q.register).toBe(30)
    // No pulls: every piece is picked by the peers; the supernode answers syncs.
    expect(q.pull + r.supernode.assignments + r.supernode.results).toBe(0)
    expect(q.sync).toBeGreaterThanOrEqual(60)
  })

  it('charges each sync the request plus the per-sync cost, a held rerun the per-sync cost alone', () => {
    const model: SupernodeCostModel = { requestUs: 100, registerUs: 1000, resultUs: 0, assignmentUs: 0, rerunUs: 0, syncUs: 50, syncPieceUs: 1 }
    const result = simulate({ ...small, cost: model })
    const r = buildReport(result)
    const q = r.supernode.requests
    const perSync = model.syncUs + r.pieceCount * model.syncPieceUs
    const expected =
      ((q.register + q.sync + q.heartbeat) * model.requestUs + q.register * model.registerUs + (q.sync + q.heartbeat + q.syncWake) * perSync) / 1e6
    expect(r.supernode.cpuSeconds).toBeCloseTo(expected, 9)
    expect(r.supernode.cpuSecondsPerPeer).toBeCloseTo(r.supernode.cpuSeconds / 30, 12)
  })
})

describe('bench/sim --sharing: how a link is shared among its transfers', () => {
  /** One uplink of 10 B/s feeding a fast and a slow (2 B/s) receiver, 100 B each: when each ends. */
  function finish(sharing: Sharing): { fast: number; slow: number } {
    const queue = new EventQueue()
    const done = new Map<Transfer, number>()
    const network = new Network(queue, (t) => done.set(t, queue.now), sharing)
    const seed = createHost(10, Infinity)
    const fast = network.start({ from: seed, to: createHost(Infinity, 100), remaining: 100 })
    const slow = network.start({ from: seed, to: createHost(Infinity, 2), remaining: 100 })
    for (let e = queue.pop(); e; e = queue.pop()) e.run()
    return { fast: done.get(fast)!, slow: done.get(slow)! }
  }

  it("per-end: each gets the lesser of its ends' equal shares; what the slow one leaves unused stays unused", () => {
    // fast: min(10 / 2, 100) = 5 B/s until the slow one ends; slow: min(5, 2) = 2 B/s for 50 s.
    const t = finish('per-end')
    expect(t.fast).toBeCloseTo(20, 6)
    expect(t.slow).toBeCloseTo(50, 6)
  })

  it('max-min: the capacity a capped transfer leaves goes to the others', () => {
    // slow is capped at 2 B/s by its downlink; fast takes the other 8 B/s of the uplink.
    const t = finish('max-min')
    expect(t.fast).toBeCloseTo(12.5, 6)
    expect(t.slow).toBeCloseTo(50, 6)
  })

  it('max-min takes the bench:swarm shape: equal links, 16 peers, every one done no sooner than the bound', () => {
    const links = {
      ...DEFAULT_SIM_OPTIONS,
      peers: 16,
      sizeMiB: 8,
      sourceGbps: null,
      rttMs: 2,
      supernodeGbps: 0.02,
      mix: [{ share: 1, upGbps: 0.02, downGbps: 0.02 }],
    }
    const r = buildReport(simulate({ ...links, sharing: 'max-min' }))
    expect(r.completed).toBe(16)
    expect(r.completion.max).toBeGreaterThanOrEqual(r.bound.seconds)
    expect(r.seedEgress).toBeLessThan(1.1)
  })
})
