import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SwarmMemberships } from '../../core/peer/swarm-memberships.ts'

/** The heartbeat that keeps a peer in its swarms, and how it stands aside while a download syncs on its own. */
describe('swarm memberships', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  const client = () => {
    const syncs: string[] = []
    return {
      syncs,
      sync: async (_base: string, taskId: string) => {
        syncs.push(taskId)
        return {} as never
      },
      leave: async () => ({ ok: true }),
    }
  }

  it('sends a heartbeat sync every 10 s for each swarm the peer is in', async () => {
    const c = client()
    const m = new SwarmMemberships(c)
    m.join('t1', 'http://sn', 'p1')
    m.join('t2', 'http://sn', 'p2')
    await vi.advanceTimersByTimeAsync(10_000)
    expect(c.syncs.sort()).toEqual(['t1', 't2'])
    await vi.advanceTimersByTimeAsync(10_000)
    expect(c.syncs).toHaveLength(4)
    await m.leaveAll()
  })

  it('skips a swarm the peer synced with lately (a download in progress), once, not for good', async () => {
    const c = client()
    const m = new SwarmMemberships(c)
    m.join('busy', 'http://sn', 'p1')
    m.join('idle', 'http://sn', 'p2')
    await vi.advanceTimersByTimeAsync(5_000)
    // The download's own sync says the same as a heartbeat would.
    m.join('busy', 'http://sn', 'p1')
    await vi.advanceTimersByTimeAsync(5_000)
    expect(c.syncs).toEqual(['idle'])
    await vi.advanceTimersByTimeAsync(10_000)
    expect(c.syncs.filter((t) => t === 'busy')).toHaveLength(1)
    await m.leaveAll()
  })
})
