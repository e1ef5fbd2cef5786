import { describe, expect, it } from 'vitest'
import { leastSquares } from '../bench/supernode/cost-fit.ts'
import { formatProtocolCost, measureProtocolCost } from '../bench/supernode/protocol-cost.ts'
import { runSupernodeBench } from '../bench/supernode/run.ts'

describe('bench/supernode against a real supernode process', () => {
  it('every virtual peer registers, is handed every piece and reports it; the source is read once', async () => {
    const peers = 120
    const r = await runSupernodeBench({ peers, sizeMiB: 2, want: 8 })
    expect(r.failures).toEqual([])
    expect(r.outcomes).toHaveLength(peers)
    // 2 MiB in pieces of 128 KiB.
    expect(r.pieceCount).toBe(16)
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

  it('--protocol-cost measures a register and a sync over the whole HTTP path of a real supernode', async () => {
    const c = await measureProtocolCost({ peers: 50, sizeMiB: 2, syncs: 3 })
    expect(c.pieceCount).toBe(16)
    expect(c.registers).toBe(50)
    // The syncing peers are registered anew (not measured) and each sends its syncs: every one answered 200.
    expect(c.syncsSent).toBe(150)
    // CPU from /proc, per request: more than nothing, less than a whole second.
    for (const us of [c.registerUs, c.syncUs]) {
      expect(us).toBeGreaterThan(0)
      expect(us).toBeLessThan(1e6)
    }
    expect(formatProtocolCost(c)).toMatch(/register \(new connection each\)\s+\d+ µs/)
  })

  it('the cost fit recovers the per-request, per-register, per-piece and per-rerun costs that produced the runs', () => {
    const truth = [159e-6, 1449e-6, 18.6e-6, 11.5e-6]
    const runs = [
      [14_804, 1000, 64_000, 4668],
      [35_163, 1000, 64_000, 1207],
      [7329, 1000, 64_000, 12_895],
      [4716, 1000, 4000, 3647],
      [13_750, 300, 76_800, 3008],
      [3570, 300, 76_800, 2075],
    ]
    const cpu = runs.map((run) => run.reduce((s, n, i) => s + n * truth[i]!, 0))
    const { coefficients, standardErrors } = leastSquares(runs, cpu)
    for (const [i, c] of coefficients.entries()) expect(c).toBeCloseTo(truth[i]!, 10)
    for (const se of standardErrors) expect(se).toBeLessThan(1e-9)
    // Shapes that cannot tell two terms apart are refused, not fitted.
    expect(() =>
      leastSquares(
        [
          [1, 2],
          [2, 4],
          [3, 6],
        ],
        [1, 2, 3],
      ),
    ).toThrow(/singular/)
  })
})
