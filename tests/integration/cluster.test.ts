import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, type Run, randomFile, type SupernodeProcess, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'

afterAll(() => killAll())

const MiB = 1024 * 1024

interface GetJson {
  supernode: string | null
  backToSource: boolean
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
}

/** `n` supernodes of one cluster, once each lists all of them; supernode i is in region `r<i>`, so peers of `r<i>|…` are sent to it. */
async function startCluster(dir: string, redis: RedisServer, n: number): Promise<SupernodeProcess[]> {
  const supernodes = await Promise.all(
    Array.from({ length: n }, (_, i) => startSupernode(join(dir, `sn${i}`), ['--cluster', redis.url, '--location', `r${i}`])),
  )
  for (const s of supernodes) {
    for (;;) {
      const { supernodes: listed } = (await (await fetch(`${s.url}${SUPERNODE_ROUTES.supernodes}`)).json()) as { supernodes: unknown[] }
      if (listed.length === n) break
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return supernodes
}

function get(dir: string, url: string, name: string, supernodes: string[], location: string): Run {
  const args = ['get', url, '-o', join(dir, `${name}.out`), '--home', join(dir, name), '--location', location, '--no-back-source', '--json']
  for (const s of supernodes) args.push('--supernode', s)
  return dragonfly(args)
}

async function waitFor(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Peers a supernode knows in its (only) task's swarm, its own and the ones mirrored from the cluster (not the other supernodes). */
async function swarmSize(supernode: string): Promise<number> {
  const { tasks } = (await (await fetch(`${supernode}${SUPERNODE_ROUTES.tasks}`)).json()) as { tasks: { taskId: string }[] }
  if (!tasks[0]) return 0
  const { peers } = (await (await fetch(`${supernode}${routePath(SUPERNODE_ROUTES.task, { taskId: tasks[0].taskId })}`)).json()) as { peers: { id: string }[] }
  return peers.filter((p) => !p.id.startsWith('sn:')).length
}

describe('supernode cluster on Redis', () => {
  it('3 supernodes, peers registering with all three at once: identical outputs, the source read once', async () => {
    const dir = await tempDir()
    const SIZE = 24 * MiB
    const file = await randomFile(dir, SIZE)
    const origin = await startOrigin(file, { rate: 12 * MiB })
    const redis = await startRedis(dir)
    const supernodes = await startCluster(dir, redis, 3)
    try {
      const runs = Array.from({ length: 6 }, (_, i) => get(dir, origin.url(), `p${i}`, [supernodes[i % 3]!.url], `r${i % 3}|z1`))
      const codes = await Promise.all(runs.map((r) => r.done))
      expect(codes, runs.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0, 0, 0, 0])
      const want = await sha256File(file)
      for (let i = 0; i < runs.length; i++) expect(await sha256File(join(dir, `p${i}.out`))).toBe(want)
      const results = runs.map((r) => parseJsonLine<GetJson>(r.stdout))
      // Each peer was scheduled by the supernode of its region: all three served.
      expect(results.map((r) => r.supernode)).toEqual(runs.map((_, i) => supernodes[i % 3]!.url))
      expect(results.every((r) => !r.backToSource)).toBe(true)
      console.info(`cluster of 3, 6 peers: origin egress ${(origin.bytes / SIZE).toFixed(3)}x the file`)
      const logs = supernodes.map((s) => s.run.stdout + s.run.stderr).join('\n')
      expect(origin.bytes / SIZE, logs).toBeLessThanOrEqual(1.02)
    } finally {
      await Promise.all(supernodes.map((s) => s.stop()))
      await redis.stop()
      await origin.close()
    }
  })

  it('kill -9 of the lease owner mid-transfer: another supernode takes the lease, peers finish, the source is read about once', async () => {
    const dir = await tempDir()
    // Large enough that what dies with the owner (its last pieces, and bytes the origin sent into socket buffers it never read) stays small.
    const SIZE = 96 * MiB
    const file = await randomFile(dir, SIZE)
    const origin = await startOrigin(file, { rate: 4 * MiB })
    const redis = await startRedis(dir)
    const [owner, b, c] = await startCluster(dir, redis, 3)
    try {
      // The first registrant makes its supernode the owner of the source fetch.
      const first = get(dir, origin.url(), 'p0', [owner!.url], 'r0|z1')
      await waitFor(() => origin.bytes > 0)
      // Peers of the owner were given only its URL: they must learn the others to survive.
      const runs = [
        first,
        get(dir, origin.url(), 'p1', [owner!.url], 'r0|z2'),
        get(dir, origin.url(), 'p2', [b!.url], 'r1|z1'),
        get(dir, origin.url(), 'p3', [c!.url], 'r2|z1'),
      ]
      // Every peer is in the swarm (the owner mirrors the others' registrations) before the owner dies.
      await waitUntil(async () => (await swarmSize(owner!.url)) >= runs.length)
      await waitFor(() => origin.bytes > SIZE / 3)
      expect(origin.bytes).toBeLessThan(SIZE)
      owner!.run.child.kill('SIGKILL')
      const killedAt = Date.now()
      const sentAtKill = origin.bytes
      const codes = await Promise.all(runs.map((r) => r.done))
      console.info(
        `owner killed with ${(sentAtKill / SIZE).toFixed(2)}x of the file sent; every peer done ${((Date.now() - killedAt) / 1000).toFixed(1)} s later`,
      )
      expect(codes, runs.map((r) => r.stdout + r.stderr).join('\n')).toEqual([0, 0, 0, 0])
      const want = await sha256File(file)
      for (let i = 0; i < runs.length; i++) expect(await sha256File(join(dir, `p${i}.out`))).toBe(want)
      const results = runs.map((r) => parseJsonLine<GetJson>(r.stdout))
      expect(results.map((r) => r.supernode)).not.toContain(owner!.url)
      expect(results.every((r) => !r.backToSource)).toBe(true)
      const logs = b!.run.stderr + b!.run.stdout + c!.run.stderr + c!.run.stdout
      expect(logs).toMatch(/took over the source lease/)
      console.info(`owner killed mid-transfer: origin egress ${(origin.bytes / SIZE).toFixed(3)}x the file`)
      // In bytes the test fixes by when it kills, not a share that depends on how far behind the copies ran on a
      // busy machine: a takeover that started over would read SIZE + sentAtKill; resuming from what the other
      // supernodes had copied re-reads only what the owner had not passed on (under half of what it had read).
      expect(origin.bytes, logs).toBeLessThan(SIZE + sentAtKill / 2)
    } finally {
      await Promise.all([b!.stop(), c!.stop()])
      await redis.stop()
      await origin.close()
    }
  })

  it('a complete task whose owner died is copied from a surviving supernode, not read from the source again', async () => {
    const dir = await tempDir()
    const SIZE = 8 * MiB
    const file = await randomFile(dir, SIZE)
    const origin = await startOrigin(file)
    const redis = await startRedis(dir)
    const [owner, b, c] = await startCluster(dir, redis, 3)
    try {
      for (const [name, via, location] of [
        ['p0', owner!, 'r0|z1'],
        ['p1', c!, 'r2|z1'],
      ] as const) {
        const run = get(dir, origin.url(), name, [via.url], location)
        expect(await run.done, run.stderr).toBe(0)
      }
      expect(origin.bytes).toBe(SIZE)
      // c copies the task from the cluster in the background; the owner dies once that copy is whole.
      await waitUntil(async () => {
        const { tasks } = (await (await fetch(`${c!.url}${SUPERNODE_ROUTES.tasks}`)).json()) as { tasks: { complete: boolean }[] }
        return tasks[0]?.complete === true
      })
      owner!.run.child.kill('SIGKILL')
      // b never held the task: the record says complete, the owner is gone, c has a whole copy.
      const run = get(dir, origin.url(), 'p2', [b!.url], 'r1|z1')
      expect(await run.done, run.stderr).toBe(0)
      expect(await sha256File(join(dir, 'p2.out'))).toBe(await sha256File(file))
      expect(origin.bytes, b!.run.stderr + b!.run.stdout).toBe(SIZE)
    } finally {
      await Promise.all([b!.stop(), c!.stop()])
      await redis.stop()
      await origin.close()
    }
  })

  it('a peer given one supernode learns the others from it and survives its death', async () => {
    const dir = await tempDir()
    const SIZE = 24 * MiB
    const file = await randomFile(dir, SIZE)
    // 4 MiB/s like the takeover test: at 8 MiB/s, under the full suite's load, what died with the
    // supernode before its follower copied it was once 0.19x of the file.
    const origin = await startOrigin(file, { rate: 4 * MiB })
    const redis = await startRedis(dir)
    const [a, b] = await startCluster(dir, redis, 2)
    try {
      const run = get(dir, origin.url(), 'p0', [b!.url], 'r1|z1')
      await waitUntil(async () => (await swarmSize(b!.url)) >= 1)
      await waitFor(() => origin.bytes > SIZE / 3)
      expect(origin.bytes).toBeLessThan(SIZE)
      b!.run.child.kill('SIGKILL')
      const sentAtKill = origin.bytes
      expect(await run.done, run.stderr).toBe(0)
      expect(await sha256File(join(dir, 'p0.out'))).toBe(await sha256File(file))
      expect(parseJsonLine<GetJson>(run.stdout)).toMatchObject({ supernode: a!.url, backToSource: false })
      console.info(`supernode killed mid-transfer: origin egress ${(origin.bytes / SIZE).toFixed(3)}x the file`)
      // As in the takeover test: bounded by what the test fixed (the bytes sent when it killed), not a ratio that
      // depends on the machine's load; starting over would read SIZE + sentAtKill.
      expect(origin.bytes).toBeLessThan(SIZE + sentAtKill / 2)
    } finally {
      await a!.stop()
      await redis.stop()
      await origin.close()
    }
  })
})
