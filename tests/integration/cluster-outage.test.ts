import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, type Run, randomFile, type SupernodeProcess, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'

afterAll(() => killAll())

const MiB = 1024 * 1024

function get(dir: string, url: string, name: string, supernode: string, location: string): Run {
  const args = ['get', url, '-o', join(dir, `${name}.out`), '--home', join(dir, name), '--location', location, '--no-back-source', '--json']
  return dragonfly([...args, '--supernode', supernode])
}

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached in ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

const readyz = async (s: SupernodeProcess) => {
  const res = await fetch(`${s.url}/readyz`)
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } }
}
const logs = (s: SupernodeProcess) => s.run.stdout + s.run.stderr

describe('supernode cluster through a Redis outage', () => {
  it('not ready and quiet while Redis is down, cached tasks still served; on its return the cache is written back and the source is not read again', async () => {
    const dir = await tempDir()
    const SIZE = 8 * MiB
    const file = await randomFile(dir, SIZE)
    const want = await sha256File(file)
    const origin = await startOrigin(file)
    let redis: RedisServer = await startRedis(join(dir))
    const [a, b] = await Promise.all([0, 1].map((i) => startSupernode(join(dir, `sn${i}`), ['--cluster', redis.url, '--location', `r${i}`])))
    try {
      await until(async () => {
        const listed = (await (await fetch(`${b!.url}${SUPERNODE_ROUTES.supernodes}`)).json()) as { supernodes: unknown[] }
        return listed.supernodes.length === 2
      }, 'both supernodes listed')
      const first = get(dir, origin.url(), 'p0', a!.url, 'r0|z1')
      expect(await first.done, first.stderr).toBe(0)
      expect(origin.bytes).toBe(SIZE)
      // Positive control: ready while Redis answers.
      expect((await readyz(a!)).status).toBe(200)

      await redis.stop()
      await until(async () => (await readyz(a!)).status === 503, 'A not ready while Redis is down')
      expect((await readyz(a!)).body.error).toMatchObject({ code: 'E_NOT_READY', message: expect.stringContaining('cluster store') })
      const status = (await (await fetch(`${a!.url}${SUPERNODE_ROUTES.status}`)).json()) as { ready: boolean; cluster: { storeReachable: boolean } }
      expect(status).toMatchObject({ ready: false, cluster: { storeReachable: false } })

      // A task held here keeps being served without the store.
      const during = get(dir, origin.url(), 'p1', a!.url, 'r0|z2')
      expect(await during.done, during.stderr).toBe(0)
      expect(await sha256File(join(dir, 'p1.out'))).toBe(want)
      // Let the outage last several heartbeats and ticks: one warning line per condition, not one per tick.
      await new Promise((r) => setTimeout(r, 2_500))
      const warnings = logs(a!)
        .split('\n')
        .filter((line) => line.includes('cluster store does not answer'))
      expect(warnings.length).toBeGreaterThanOrEqual(1)
      expect(warnings.length, warnings.join('\n')).toBeLessThanOrEqual(2)

      // Redis comes back empty, at the same address.
      redis = await startRedis(join(dir), { port: redis.port })
      await until(async () => (await readyz(a!)).status === 200, 'A ready again after Redis returned')
      // B notices the store's return on its own heartbeat; until then it turns peers away (503) and they fail over to A.
      await until(async () => (await readyz(b!)).status === 200, 'B ready again after Redis returned')
      expect(logs(a!)).toMatch(/cluster store does not answer.*\(\d+ more like it/)
      expect(logs(a!)).toMatch(/cluster store answers again: writing back \d+ tasks/)

      // B never held the task: it must find A's record, digests and copy in the store, not the origin.
      const after = get(dir, origin.url(), 'p2', b!.url, 'r1|z1')
      expect(await after.done, after.stdout + after.stderr + logs(b!)).toBe(0)
      expect(await sha256File(join(dir, 'p2.out'))).toBe(want)
      expect(parseJsonLine<{ supernode: string; backToSource: boolean }>(after.stdout)).toMatchObject({ supernode: b!.url, backToSource: false })
      expect(origin.bytes, logs(b!)).toBe(SIZE)
      expect(logs(b!)).not.toMatch(/took over the source lease/)
    } finally {
      await Promise.all([a!.stop(), b!.stop()])
      await redis.stop()
      await origin.close()
    }
  })
})
