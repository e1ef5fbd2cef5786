import { describe, expect, it } from 'vitest'
import { buildReport } from '../bench/sim/report.ts'
import { DEFAULT_SIM_OPTIONS } from '../bench/sim/scenario.ts'
import { simulate } from '../bench/sim/simulate.ts'

const tiny = { ...DEFAULT_SIM_OPTIONS, peers: 50, sizeMiB: 16 }

describe('bench/sim on the real Swarm and scheduler', () => {
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
  })
})
