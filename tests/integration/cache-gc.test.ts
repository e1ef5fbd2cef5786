import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { parseSize } from '../../core/size.ts'
import { randomFile, tempDir } from '../helpers/cli.ts'
import { startFaultOrigin } from '../helpers/fault-origin.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'
import { serveSupernode, startPeer } from '../helpers/swarm.ts'

const MiB = 1024 * 1024
const closers: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const c of closers.reverse()) await c()
})

it('parses sizes the way dfget writes them', () => {
  expect(parseSize('512KB')).toBe(512 * 1024)
  expect(parseSize('20MB')).toBe(20 * MiB)
  expect(parseSize('1.5GiB')).toBe(1.5 * 1024 * MiB)
  expect(parseSize(1000)).toBe(1000)
  expect(() => parseSize('lots')).toThrow(expect.objectContaining({ code: 'E_CONFIG' }))
})

it('the supernode cache evicts least recently used tasks between watermarks, keeping what is in use', async () => {
  const dir = await tempDir()
  const origins = await Promise.all([1, 2, 3].map(async (i) => startFaultOrigin(await randomFile(dir, 8 * MiB, `f${i}`))))
  for (const o of origins) closers.push(() => o.close())
  const cache = { quotaBytes: 20 * MiB, highWatermark: 0.9, lowWatermark: 0.7 }
  const sn = await serveSupernode(join(dir, 'sn'), { cache, sweepIntervalMs: 100 })
  closers.push(() => sn.close())
  const storage = sn.supernode.cdn['options'].storage
  const get = async (i: number) => {
    const peer = await startPeer(join(dir, `p${i}-${Date.now()}`), [sn.url])
    try {
      return await peer.download({ url: origins[i]!.url })
    } finally {
      await peer.close()
    }
  }
  const ids = [(await get(0)).taskId, (await get(1)).taskId]
  // A sweep of its own, awaited: 16 MiB is under the high watermark, nothing goes (the eviction below is the control).
  expect((await sn.supernode.cdn.collect(cache))?.removed ?? []).toEqual([])
  expect((await storage.listKeys()).sort()).toEqual([...ids].sort())
  ids.push((await get(2)).taskId)
  await expect.poll(async () => (await storage.listKeys()).includes(ids[0]!), { timeout: 10_000, interval: 50 }).toBe(false)
  // Over the high watermark (18 MiB) it evicted the least recently used task; it stops under the low one.
  await expect.poll(() => storage.usage!(), { timeout: 10_000, interval: 50 }).toBeLessThanOrEqual(18 * MiB)
  const kept = await storage.listKeys()
  expect(kept).not.toContain(ids[0])
  expect(kept).toContain(ids[2])
  expect(sn.supernode.cdn.get(ids[0]!)).toBeUndefined()
  // An evicted task is fetched from its source again when asked for.
  await get(0)
  expect(origins[0]!.bytes).toBe(16 * MiB)
  const metrics = parsePromText(await (await fetch(`${sn.url}/metrics`)).text())
  expect(sampleValue(metrics, 'dragonfly_cache_evictions_total')).toBeGreaterThanOrEqual(1)
  expect(sampleValue(metrics, 'dragonfly_source_bytes_total')).toBe(32 * MiB)
})

it('the daemon cache evicts least recently used finished tasks and leaves their swarms', async () => {
  const { DownloadFlights } = await import('../../core/daemon/download-flights.ts')
  const dir = await tempDir()
  const origins = await Promise.all([1, 2, 3].map(async (i) => startFaultOrigin(await randomFile(dir, 8 * MiB, `d${i}`))))
  for (const o of origins) closers.push(() => o.close())
  const sn = await serveSupernode(join(dir, 'sn'))
  closers.push(() => sn.close())
  const peer = await startPeer(join(dir, 'daemon'), [sn.url])
  closers.push(() => peer.close())
  const flights = new DownloadFlights(peer)
  const ids: string[] = []
  for (const o of origins) {
    const flight = await flights.start({ url: o.url })
    ids.push((await flight.done).taskId)
  }
  // Nobody read the first two for a while; the newest was just used.
  flights.get(ids[0]!)!.lastUsed = 1
  flights.get(ids[1]!)!.lastUsed = 2
  const result = await flights.collect({ quotaBytes: 20 * MiB })
  expect(result?.removed).toEqual([ids[0], ids[1]])
  expect(await peer.options.storage.listKeys()).toEqual([ids[2]])
  expect(peer.tasks.has(ids[0]!)).toBe(false)
  const task = (await (await fetch(`${sn.url}${routePath(SUPERNODE_ROUTES.task, { taskId: ids[0]! })}`)).json()) as { peers: unknown[] }
  expect(task.peers).toHaveLength(0)
})
