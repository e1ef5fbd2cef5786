import { describe, expect, it } from 'vitest'
import { runSupernodeBench } from '../bench/supernode/run.ts'

describe('bench/supernode against a real supernode process', () => {
  it('every virtual peer registers, is handed every piece and reports it; the source is read once', async () => {
    const peers = 120
    const r = await runSupernodeBench({ peers, sizeMiB: 2, want: 8 })
    expect(r.failures).toEqual([])
    expect(r.outcomes).toHaveLength(peers)
    expect(r.pieceCount).toBe(8)
    for (const o of r.outcomes) expect(o.pieces).toBe(o.pieceCount)
    expect(r.assignments).toBeGreaterThanOrEqual(peers * r.pieceCount)
    // Peers serve each other: most assignments name another peer, not the supernode.
    expect(r.fromPeers / r.assignments).toBeGreaterThan(0.5)
    expect(r.requests.register.count).toBe(peers)
    expect(r.requests.leave.count).toBe(peers)
    expect(r.schedule.pulls).toBeGreaterThanOrEqual(r.requests.work.count)
    expect(r.supernode.cpuSeconds).toBeGreaterThan(0)
    expect(r.supernode.peakRssBytes).toBeGreaterThan(0)
    expect(r.sourceEgress).toBeCloseTo(1, 5)
  })
})
