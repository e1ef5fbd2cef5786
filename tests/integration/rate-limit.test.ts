import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { pieceRange } from '../../core/protocol/piece-layout.ts'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { serveSupernode, startPeer } from '../helpers/swarm.ts'

// The achieved rate over a transfer of 8-10 s is at most 10 % above the limit: that side cannot
// flake (the limiter never lets more through). The lower side only catches a limiter that holds a
// transfer well below its rate: a starved machine is slower than the limit by itself (0.83x and
// 0.86x of 2 MiB/s at load average 10 on 2 cores), so it allows 25 %.
const MiB = 1024 * 1024
const closers: (() => Promise<void>)[] = []
afterAll(async () => {
  killAll()
  for (const c of closers.reverse()) await c()
})

function expectRate(bytes: number, ms: number, limit: number): void {
  const rate = bytes / (ms / 1000)
  expect(rate).toBeLessThanOrEqual(limit * 1.1)
  expect(rate).toBeGreaterThanOrEqual(limit * 0.75)
}

it('get --rate-limit holds one download to the limit; bad values are CLI errors', async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 16 * MiB)
  const origin = await startOrigin(file)
  closers.push(() => origin.close())
  const sn = await startSupernode(join(dir, 'sn'))
  closers.push(() => sn.stop())

  const run = dragonfly([
    'get',
    origin.url(),
    '-o',
    join(dir, 'out'),
    '--supernode',
    sn.url,
    '--home',
    join(dir, 'p'),
    '--daemon',
    'off',
    '--rate-limit',
    '2MB',
    '--json',
  ])
  expect(await run.done).toBe(0)
  const result = parseJsonLine<{ bytes: number; durationMs: number }>(run.stdout)
  expectRate(result.bytes, result.durationMs, 2 * MiB)
  expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))

  const bad = dragonfly(['get', origin.url(), '-o', join(dir, 'bad'), '--supernode', sn.url, '--daemon', 'off', '--rate-limit', 'fast', '--json'])
  expect(await bad.done).toBe(2)
  expect(JSON.parse(bad.stdout.trim()).error.code).toBe('E_BAD_ARGUMENT')
}, 60_000)

it('a peer with a rate limit serves its pieces no faster than the limit', async () => {
  const dir = await tempDir()
  const limit = 4 * MiB
  const peer = await startPeer(join(dir, 'p'), [], { rateLimit: limit })
  closers.push(() => peer.close())
  // A task this peer holds whole (as after a download), served by its piece server.
  const taskId = 'a'.repeat(64)
  const size = 36 * MiB
  const { createPieceLayout } = await import('../../core/protocol/piece-layout.ts')
  const task = peer.adopt(taskId, createPieceLayout(size))
  const chunk = new Uint8Array(task.layout.pieceSize).fill(7)
  for (let n = 0; n < task.layout.pieceCount; n++) {
    const r = pieceRange(task.layout, n)
    await peer.options.storage.writeAt(taskId, r.start, chunk.subarray(0, r.length))
    task.have.set(n)
  }
  // No download ran here: the peer's default rate limit applies to what it seeds.
  const started = performance.now()
  let received = 0
  let next = 0
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < task.layout.pieceCount) {
        const res = await fetch(`${peer.address}/pieces/${taskId}/${next++}`)
        const body = await res.arrayBuffer()
        received += body.byteLength
      }
    }),
  )
  expect(received).toBe(size)
  expectRate(received, performance.now() - started, limit)
}, 60_000)

it('daemon --total-limit holds concurrent downloads to one shared limit', async () => {
  const dir = await tempDir()
  const files = [await randomFile(dir, 10 * MiB, 'a'), await randomFile(dir, 10 * MiB, 'b')]
  const origins = await Promise.all(files.map((f) => startOrigin(f)))
  for (const o of origins) closers.push(() => o.close())
  const sn = await startSupernode(join(dir, 'sn'))
  closers.push(() => sn.stop())
  const daemon = await startDaemon(join(dir, 'd'), sn.url, ['--total-limit', '2MB'])
  closers.push(() => daemon.stop())

  const runs = origins.map((o, i) => dragonfly(['get', o.url(), '-o', join(dir, `out${i}`), '--daemon', daemon.url, '--home', join(dir, `g${i}`), '--json']))
  expect(await Promise.all(runs.map((r) => r.done))).toEqual([0, 0])
  // The window runs from the first download's start to the last one's end, as the daemon timed them
  // (the gets' own process start-up and the final copy out of the daemon are left out).
  const { tasks } = (await (await fetch(`${daemon.url}${DAEMON_ROUTES.tasks}`)).json()) as { tasks: { startedAt: number; result: { durationMs: number } }[] }
  expect(tasks).toHaveLength(2)
  const window = Math.max(...tasks.map((t) => t.startedAt + t.result.durationMs)) - Math.min(...tasks.map((t) => t.startedAt))
  expectRate(20 * MiB, window, 2 * MiB)
  for (const [i, f] of files.entries()) expect(await sha256File(join(dir, `out${i}`))).toBe(await sha256File(f))
}, 60_000)

it('supernode --total-limit paces what it serves to peers', async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 16 * MiB)
  const origin = await startOrigin(file)
  closers.push(() => origin.close())
  const sn = await serveSupernode(join(dir, 'sn'), { totalLimit: 2 * MiB })
  closers.push(() => sn.close())
  const peer = await startPeer(join(dir, 'p'), [sn.url])
  closers.push(() => peer.close())
  const result = await peer.download({ url: origin.url() })
  expectRate(result.bytes, result.durationMs, 2 * MiB)
  expect(result.bytesFromSupernode).toBe(16 * MiB)
}, 60_000)
