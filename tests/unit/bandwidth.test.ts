import { describe, expect, it } from 'vitest'
import { BandwidthHistory } from '../../core/supernode/bandwidth.ts'

const T0 = 1_700_000_000_000

describe('bandwidth history (the dashboard chart)', () => {
  it('sums bytes per step and flow, oldest first; steps with nothing are zero', () => {
    const h = new BandwidthHistory({ stepMs: 1_000, steps: 4 })
    h.record('a', 'source', 100, T0)
    h.record('a', 'source', 50, T0 + 999)
    h.record('a', 'peers', 7, T0 + 2_000)
    const s = h.series(undefined, T0 + 2_500)
    expect(s).toEqual({ stepMs: 1_000, end: T0 + 2_000, source: [0, 150, 0, 0], supernode: [0, 0, 0, 0], peers: [0, 0, 0, 7] })
    expect(h.series('a', T0 + 2_500).source).toEqual([0, 150, 0, 0])
  })

  it('forgets what is older than the window, also after a long silence', () => {
    const h = new BandwidthHistory({ stepMs: 1_000, steps: 3 })
    h.record(undefined, 'supernode', 5, T0)
    expect(h.series(undefined, T0 + 2_000).supernode).toEqual([5, 0, 0])
    expect(h.series(undefined, T0 + 3_000).supernode).toEqual([0, 0, 0])
    h.record(undefined, 'supernode', 9, T0 + 60_000)
    expect(h.series(undefined, T0 + 61_000).supernode).toEqual([0, 9, 0])
  })

  it('keeps each task apart from the others, and adds bytes a clock that stepped back reports to the newest step', () => {
    const h = new BandwidthHistory({ stepMs: 1_000, steps: 3 })
    h.record('a', 'peers', 1, T0 + 5_000)
    h.record('b', 'peers', 2, T0 + 5_000)
    h.record('a', 'peers', 4, T0 + 1_000)
    expect(h.series('a', T0 + 5_000).peers).toEqual([0, 0, 5])
    expect(h.series('b', T0 + 5_000).peers).toEqual([0, 0, 2])
    expect(h.series(undefined, T0 + 5_000).peers).toEqual([0, 0, 7])
    expect(h.series('unknown', T0 + 5_000).peers).toEqual([0, 0, 0])
  })

  it('holds at most `tasks` task series, dropping the least recently active', () => {
    const h = new BandwidthHistory({ stepMs: 1_000, steps: 2, tasks: 2 })
    h.record('a', 'source', 1, T0)
    h.record('b', 'source', 1, T0)
    h.record('a', 'source', 1, T0)
    h.record('c', 'source', 1, T0)
    expect(h.series('a', T0).source).toEqual([0, 2])
    expect(h.series('b', T0).source).toEqual([0, 0])
    expect(h.series('c', T0).source).toEqual([0, 1])
    expect(h.series(undefined, T0).source).toEqual([0, 4])
  })

  it('hears the supernode events: source reads and deliveries by who served them', () => {
    const h = new BandwidthHistory({ steps: 1 })
    h.events.sourceBytes?.(10, { taskId: 'a', url: 'u' })
    h.events.pieceDelivered?.('supernode', 20, { taskId: 'a', url: 'u' })
    h.events.pieceDelivered?.('peer', 30, { taskId: 'a', url: 'u' })
    const s = h.series('a', Date.now())
    expect([s.source, s.supernode, s.peers]).toEqual([[10], [20], [30]])
  })
})
