import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClusterStore } from '../../core/contract/cluster-store.ts'
import { connectRedisStore } from '../../plugins/cluster-redis/index.ts'
import { freePort } from '../helpers/registry.ts'
import { tempDir } from '../helpers/cli.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'

const TASK = 'b'.repeat(64)
let redis: RedisServer
let a: ClusterStore
let b: ClusterStore

beforeAll(async () => {
  redis = await startRedis(await tempDir())
  a = await connectRedisStore(redis.url, { keyPrefix: 'test:' })
  b = await connectRedisStore(redis.url, { keyPrefix: 'test:' })
})
afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()])
  await redis?.stop()
})

describe('cluster-redis store on a real redis-server', () => {
  it('a lease has one holder at a time, is renewed only by it, and is free again after its expiry', async () => {
    expect(await a.acquireLease(TASK, 'a', 300)).toBe(true)
    expect(await b.acquireLease(TASK, 'b', 300)).toBe(false)
    expect(await b.renewLease(TASK, 'b', 300)).toBe(false)
    expect(await a.acquireLease(TASK, 'a', 300)).toBe(true)
    expect(await b.leaseOwner(TASK)).toBe('a')
    await b.releaseLease(TASK, 'b')
    expect(await b.leaseOwner(TASK)).toBe('a')
    // Expiry is Redis' own: wait until the key is gone, then the other side gets it.
    while ((await b.leaseOwner(TASK)) !== null) await new Promise((r) => setTimeout(r, 50))
    expect(await b.acquireLease(TASK, 'b', 10_000)).toBe(true)
    await b.releaseLease(TASK, 'b')
    expect(await a.leaseOwner(TASK)).toBeNull()
  })

  it('member sets are replaced whole, digests accumulate, announcements list the live supernodes', async () => {
    await a.putMembers(TASK, 'sa', { p1: '{"x":1}', p2: '{"x":2}' }, 10_000)
    await a.putMembers(TASK, 'sa', { p3: '{"x":3}' }, 10_000)
    expect(await b.members(TASK, 'sa')).toEqual({ p3: '{"x":3}' })
    await a.putMembers(TASK, 'sa', {}, 10_000)
    expect(await b.members(TASK, 'sa')).toEqual({})
    await a.putDigests(TASK, { 0: 'd0' }, 10_000)
    await a.putDigests(TASK, { 1: 'd1' }, 10_000)
    expect(await b.digestCount(TASK)).toBe(2)
    expect(await b.digests(TASK)).toEqual({ 0: 'd0', 1: 'd1' })
    await a.putTask(TASK, '{"r":1}', 10_000)
    expect(await b.getTask(TASK)).toBe('{"r":1}')
    await a.announce('sa', '{"id":"sa"}', 10_000)
    await b.announce('sb', '{"id":"sb"}', 200)
    expect((await a.announcements()).sort()).toEqual(['{"id":"sa"}', '{"id":"sb"}'])
    while ((await a.announcements()).length > 1) await new Promise((r) => setTimeout(r, 50))
    expect(await a.announcements()).toEqual(['{"id":"sa"}'])
  })

  it('an unreachable Redis is a clear E_CLUSTER error', async () => {
    const port = await freePort()
    await expect(connectRedisStore(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'E_CLUSTER',
      message: expect.stringContaining(`cannot connect to the cluster store redis://127.0.0.1:${port}`),
    })
  })
})
