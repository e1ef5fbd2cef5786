import { describe, expect, it } from 'vitest'
import { createCluster } from '../../core/cluster/cluster.ts'
import { ClusterDirectory, pickSupernodes } from '../../core/cluster/directory.ts'
import { TaskMirror } from '../../core/cluster/mirror.ts'
import { isDragonflyError } from '../../core/errors.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import type { Cdn } from '../../core/supernode/cdn/cdn.ts'
import type { CdnMeta, CdnTask } from '../../core/supernode/cdn/cdn-task.ts'
import { Swarm } from '../../core/supernode/scheduler/swarm.ts'
import { createMemoryClusterStore } from '../helpers/memory-cluster-store.ts'

const TASK = 'a'.repeat(64)
const at = (id: string, location: string | undefined, load: number) => ({ id: id.repeat(16), url: `http://${id}:8002`, location, load })

describe('config service: which supernodes a peer should use', () => {
  it('nearest by location first, then the least loaded', () => {
    const live = [at('a', 'eu|z1', 0), at('b', 'us|z1', 0), at('c', 'eu|z2', 5), at('d', 'eu|z2', 1)]
    expect(pickSupernodes(live, 'eu|z2|rack9').map((a) => a.url)).toEqual(['http://d:8002', 'http://c:8002', 'http://a:8002', 'http://b:8002'])
    expect(pickSupernodes(live, 'us|z7')[0]!.url).toBe('http://b:8002')
    expect(pickSupernodes(live, undefined).map((a) => a.load)).toEqual([0, 0, 1, 5])
  })

  it('announcements that do not parse are set aside, not thrown at peers', async () => {
    const store = createMemoryClusterStore()
    store.raw.set('supernode:x', '{not json')
    store.raw.set('supernode:y', JSON.stringify({ id: 'y', url: 'file:///etc/passwd', load: -1 }))
    store.raw.set('supernode:z', JSON.stringify(at('b', 'r1', 2)))
    const directory = new ClusterDirectory(store, { id: 'a'.repeat(16), url: 'http://a:8002', location: 'r0' }, 5_000)
    await directory.refresh(3)
    expect(directory.live.map((a) => a.url).sort()).toEqual(['http://a:8002', 'http://b:8002'])
    expect(directory.rejected).toHaveLength(2)
    expect(directory.rejected.join('\n')).toMatch(/E_CLUSTER|malformed JSON|invalid supernode announcement/)
    expect(directory.others()).toEqual(['b'.repeat(16)])
  })
})

describe('source lease', () => {
  const joined = async (url: string, store = createMemoryClusterStore()) => {
    const cluster = createCluster({ store, storage: undefined as never, createHash: undefined as never, claimTimeoutMs: 300 })
    await cluster.start({ get: () => undefined } as unknown as Cdn, { url }, () => 0)
    return { cluster, store }
  }

  it('the first claimant fetches the source; the next one waits for its layout and follows it', async () => {
    const { cluster: a, store } = await joined('http://a:8002')
    const { cluster: b } = await joined('http://b:8002', store)
    expect(await a.coordinator.claim(TASK)).toBeNull()
    const waiting = b.coordinator.claim(TASK)
    store.raw.set(`task:${TASK}`, JSON.stringify({ url: 'http://o/f', contentLength: 10, pieceSize: 4, complete: false }))
    expect(await waiting).toMatchObject({ contentLength: 10, pieceSize: 4 })
    await Promise.all([a.close(), b.close()])
  })

  it('a failure the owner shared is answered as that error; a malformed record is E_CLUSTER', async () => {
    const { cluster, store } = await joined('http://a:8002')
    store.raw.set(`task:${TASK}`, JSON.stringify({ error: { code: 'E_SOURCE_STATUS', message: 'source answered 404' } }))
    await expect(cluster.coordinator.claim(TASK)).rejects.toMatchObject({ code: 'E_SOURCE_STATUS', message: 'source answered 404' })
    store.raw.set(`task:${TASK}`, JSON.stringify({ url: 'http://o/f', contentLength: -5, pieceSize: 0, complete: 'yes' }))
    const error = await cluster.coordinator.claim(TASK).catch((e: unknown) => e)
    expect(isDragonflyError(error) && error.code).toBe('E_CLUSTER')
    await cluster.close()
  })

  it('a claimant gives up with E_CLUSTER when the lease holder never publishes a layout', async () => {
    const { cluster, store } = await joined('http://a:8002')
    store.raw.set(`lease:${TASK}`, 'f'.repeat(16))
    await expect(cluster.coordinator.claim(TASK)).rejects.toMatchObject({ code: 'E_CLUSTER' })
    await cluster.close()
  })
})

describe('remote members in the local swarm', () => {
  const layout = createPieceLayout(4 * 262144, 262144)
  const bits = (...pieces: number[]) => {
    const b = new Bitset(4)
    for (const p of pieces) b.set(p)
    return b
  }

  it('count as holders for pieces whose digest is known, are never expired, and leave when no longer listed', () => {
    const swarm = new Swarm(TASK, layout)
    swarm.digests[0] = 'd0'
    swarm.digests[1] = 'd1'
    swarm.register('me', { address: 'http://me' }, 0)
    swarm.syncRemote([{ id: 'r1', via: 'b'.repeat(16), address: 'http://r1', slots: 6, have: bits(0, 1, 2) }], 0)
    expect(Array.from(swarm.holders)).toEqual([1, 1, 0, 0])
    // A later digest lets the next sync count the piece.
    swarm.digests[2] = 'd2'
    swarm.syncRemote([{ id: 'r1', via: 'b'.repeat(16), address: 'http://r1', slots: 6, have: bits(0, 1, 2) }], 1)
    expect(Array.from(swarm.holders)).toEqual([1, 1, 1, 0])
    expect(swarm.pull('me', [], 2, 1).every((a) => a.from === 'r1')).toBe(true)
    expect(swarm.expire(10_000_000)).toEqual(['me'])
    expect(swarm.peers.has('r1')).toBe(true)
    swarm.syncRemote([], 2)
    expect(swarm.peers.has('r1')).toBe(false)
    expect(Array.from(swarm.holders)).toEqual([0, 0, 0, 0])
  })

  it('never replace a peer registered here under the same id', () => {
    const swarm = new Swarm(TASK, layout)
    swarm.register('same', { address: 'http://local' }, 0)
    swarm.syncRemote([{ id: 'same', via: 'b'.repeat(16), address: 'http://evil', slots: 6, have: bits(0) }], 0)
    expect(swarm.peer('same').address).toBe('http://local')
    expect(swarm.peer('same').remote).toBeUndefined()
    expect(swarm.holders[0]).toBe(0)
  })
})

describe('a follower that finished copying before the owner said the task was complete', () => {
  it('learns the whole-content digest from the record once the owner publishes it, and settles', async () => {
    const store = createMemoryClusterStore()
    const layout = createPieceLayout(4 * 262144, 262144)
    const task = { taskId: TASK, url: 'http://o/f', layout, swarm: new Swarm(TASK, layout), complete: false } as unknown as CdnTask
    const meta: CdnMeta = { url: 'http://o/f', contentLength: layout.contentLength, pieceSize: layout.pieceSize, digests: [], complete: false, updatedAt: 0 }
    const mirror = new TaskMirror(task, meta, false, {
      store,
      self: { id: 'b'.repeat(16), url: 'http://b:8002', location: undefined },
      cdn: undefined as never,
      leaseMs: 5_000,
      others: () => [],
      report: () => {},
      storage: undefined as never,
      createHash: undefined as never,
    })
    // The owner's record before it finished: no digest yet.
    store.raw.set(`task:${TASK}`, JSON.stringify({ url: 'http://o/f', contentLength: layout.contentLength, pieceSize: layout.pieceSize, complete: false }))
    await mirror.sync(0, true)
    // Every piece copied here (by the replicator), then the owner publishes the record complete and tells the others.
    task.complete = true
    await mirror.sync(100, false)
    const digest = `sha256:${'d'.repeat(64)}`
    store.raw.set(
      `task:${TASK}`,
      JSON.stringify({ url: 'http://o/f', contentLength: layout.contentLength, pieceSize: layout.pieceSize, complete: true, digest }),
    )
    await mirror.sync(200, true)
    await mirror.sync(300, false)
    expect(task.digest).toBe(digest)
    // Settled: no periodic work left for this task.
    expect(mirror.settled).toBe(true)
  })
})
