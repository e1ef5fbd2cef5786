import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { dragonfly, killAll, parseJsonLine, randomFile, type Run, sha256File, startSupernode, type SupernodeProcess, tempDir } from '../helpers/cli.ts'
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

/** `n` supernodes of one cluster; supernode i is in region `r<i>`, so peers of `r<i>|…` are sent to it. */
async function startCluster(dir: string, redis: RedisServer, n: number): Promise<SupernodeProcess[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => startSupernode(join(dir, `sn${i}`), ['--cluster', redis.url, '--location', `r${i}`])))
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
      expect(origin.bytes / SIZE).toBeLessThanOrEqual(1.02)
    } finally {
      await Promise.all(supernodes.map((s) => s.stop()))
      await redis.stop()
      await origin.close()
    }
  })
})
