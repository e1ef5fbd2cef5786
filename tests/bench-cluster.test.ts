import { describe, expect, it } from 'vitest'
import { runClusterBench } from '../bench/cluster/run.ts'

describe('bench/cluster on real supernodes and a real redis-server', () => {
  it('preheats, settles, idles, gets through both supernodes and measures a failover', async () => {
    const r = await runClusterBench({ tasks: 60, real: 30, idleSeconds: 2, deadlineMs: 100_000 })
    // Every preheated task is held, and none keeps periodic work once settled (the idle cost does not grow with the cache).
    expect(r.held[0]).toEqual({ tasks: 30, active: 0 })
    expect(r.held[1]).toEqual({ tasks: 3, active: 0 })
    // 30 real tasks (record, digests, 2 member sets for a tenth) + 30 synthetic (3 keys each), announcements and leftovers.
    expect(r.redis.keys).toBeGreaterThanOrEqual(30 * 3 + 30 * 3)
    expect(r.redis.commandsPerSecond).toBeGreaterThan(0)
    expect(r.redis.usedMemoryBytes).toBeGreaterThan(0)
    for (const s of r.idle) expect(s.rssBytes).toBeGreaterThan(0)
    expect(r.getMs.owner).toBeGreaterThan(0)
    expect(r.getMs.nonOwner).toBeGreaterThan(0)
    expect(r.failoverMs).toBeGreaterThan(0)
    console.info(JSON.stringify({ ...r, options: undefined }))
  })
})
