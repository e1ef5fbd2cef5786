import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'

const SIZE = 64 * 1024 * 1024

interface GetJson {
  bytes: number
  durationMs: number
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
  wireBytes: number
  pieces: number
  digest: string
}

describe('swarm: origin, supernode and 5 peers as real processes', () => {
  let dir: string
  let file: string
  let expected: string
  beforeAll(async () => {
    dir = await tempDir()
    file = await randomFile(dir, SIZE)
    expected = await sha256File(file)
  })
  afterAll(() => killAll())

  it('5 concurrent peers get identical files; the origin serves it once; peers serve each other', async () => {
    // A throttled origin keeps the swarm busy long enough for pieces to spread between peers.
    const origin = await startOrigin(file, { rate: 48 * 1024 * 1024 })
    const supernode = await startSupernode(join(dir, 'sn1'))
    try {
      const runs = Array.from({ length: 5 }, (_, i) =>
        dragonfly(['get', origin.url(), '-o', join(dir, `out-${i}`), '--supernode', supernode.url, '--home', join(dir, `peer-${i}`), '--json']),
      )
      const codes = await Promise.all(runs.map((r) => r.done))
      expect(codes, runs.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0, 0, 0])
      const results = runs.map((r) => parseJsonLine<GetJson>(r.stdout))
      for (let i = 0; i < 5; i++) {
        expect(await sha256File(join(dir, `out-${i}`))).toBe(expected)
        expect(results[i]).toMatchObject({ bytes: SIZE, digest: `sha256:${expected}`, bytesFromSource: 0 })
        expect(results[i]!.pieces).toBeGreaterThan(1)
        expect(results[i]!.wireBytes).toBeGreaterThanOrEqual(SIZE)
        expect(results[i]!.bytesFromPeers + results[i]!.bytesFromSupernode).toBe(SIZE)
      }
      expect(origin.bytes).toBeLessThanOrEqual(SIZE * 1.01)
      const fromPeers = results.reduce((a, r) => a + r.bytesFromPeers, 0)
      expect(fromPeers / (5 * SIZE)).toBeGreaterThan(0.3)
    } finally {
      await supernode.stop()
      await origin.close()
    }
  })

  it('reuses the supernode cache: a second get takes nothing from the origin', async () => {
    const origin = await startOrigin(file)
    const supernode = await startSupernode(join(dir, 'sn2'))
    try {
      const first = dragonfly(['get', origin.url(), '-o', join(dir, 'cache-1'), '--supernode', supernode.url, '--home', join(dir, 'c1'), '--json'])
      expect(await first.done).toBe(0)
      const before = origin.bytes
      await supernode.stop()
      const again = await startSupernode(join(dir, 'sn2'))
      try {
        const second = dragonfly(['get', origin.url(), '-o', join(dir, 'cache-2'), '--supernode', again.url, '--home', join(dir, 'c2'), '--json'])
        expect(await second.done, second.stderr).toBe(0)
        expect(origin.bytes).toBe(before)
        expect(await sha256File(join(dir, 'cache-2'))).toBe(expected)
      } finally {
        await again.stop()
      }
    } finally {
      await origin.close()
    }
  })

  it('a peer killed mid-way does not stop the others, and leaves the swarm state', async () => {
    const origin: Origin = await startOrigin(file, { rate: 24 * 1024 * 1024 })
    const supernode = await startSupernode(join(dir, 'sn3'))
    try {
      const runs = Array.from({ length: 5 }, (_, i) =>
        dragonfly(['get', origin.url(), '-o', join(dir, `kill-${i}`), '--supernode', supernode.url, '--home', join(dir, `k-${i}`), '--json']),
      )
      // Kill peer 0 once the swarm has moved a good part of the file.
      await waitFor(() => origin.bytes > SIZE / 3, 60_000)
      runs[0]!.child.kill('SIGKILL')
      const codes = await Promise.all(runs.slice(1).map((r) => r.done))
      expect(codes, runs.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0, 0])
      for (let i = 1; i < 5; i++) expect(await sha256File(join(dir, `kill-${i}`))).toBe(expected)
      expect(existsSync(join(dir, 'kill-0'))).toBe(false)
      expect(origin.bytes).toBeLessThanOrEqual(SIZE * 1.01)
      // The dead peer leaves the swarm state (reported unreachable, or silent past the peer TTL): nobody is sent to it.
      const killedAt = performance.now()
      const { tasks } = (await (await fetch(`${supernode.url}${SUPERNODE_ROUTES.tasks}`)).json()) as { tasks: { taskId: string }[] }
      const peersLeft = async () =>
        ((await (await fetch(`${supernode.url}${routePath(SUPERNODE_ROUTES.task, { taskId: tasks[0]!.taskId })}`)).json()) as { peers: unknown[] }).peers.length
      let left = await peersLeft()
      while (left > 0 && performance.now() - killedAt < 60_000) {
        await new Promise((r) => setTimeout(r, 250))
        left = await peersLeft()
      }
      expect(left).toBe(0)
      console.log(`killed peer gone from the swarm ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the others finished`)
    } finally {
      await supernode.stop()
      await origin.close()
    }
  })
})

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}
