import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { killAll, randomFile, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'

const MiB = 1024 * 1024
const origins: Origin[] = []
afterAll(async () => {
  killAll()
  for (const o of origins) await o.close()
})

/** A download through the daemon's local API, read to the end; its task id. */
async function download(daemonUrl: string, url: string): Promise<string> {
  const res = await fetch(`${daemonUrl}${DAEMON_ROUTES.download}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  })
  expect(res.status).toBe(200)
  expect((await res.arrayBuffer()).byteLength).toBe(8 * MiB)
  return res.headers.get('x-dragonfly-task-id')!
}

// The daemon process's own sweep (every 10 s) under daemon.cacheQuota; a download used in the last minute is
// never evicted, so the old ones are made by a first daemon and the sweep is watched in a second one on the same home.
it('a daemon process keeps its cache under daemon.cacheQuota: the least recently used downloads go, down to the low watermark', async () => {
  const dir = await tempDir()
  for (let i = 0; i < 3; i++) origins.push(await startOrigin(await randomFile(dir, 8 * MiB, `f${i}`)))
  const supernode = await startSupernode(join(dir, 'sn'))
  const home = join(dir, 'daemon')
  const data = join(home, 'peer', 'data')
  const first = await startDaemon(home, supernode.url)
  const old = [await download(first.url, origins[0]!.url()), await download(first.url, origins[1]!.url())]
  await first.stop()
  // Positive control: both downloads are on disk when the quota daemon starts.
  expect((await readdir(data)).sort()).toEqual([...old].sort())

  await writeFile(join(dir, 'quota.json'), JSON.stringify({ daemon: { cacheQuota: '20MB', highWatermark: 0.9, lowWatermark: 0.7 } }))
  const second = await startDaemon(home, supernode.url, ['--config', join(dir, 'quota.json')])
  const fresh = await download(second.url, origins[2]!.url())
  // 24 MiB is over 18 MiB (0.9 of 20): both old downloads go (16 MiB is still over the low 14 MiB), the new one stays.
  await expect.poll(async () => (await readdir(data)).sort(), { timeout: 60_000, interval: 250 }).toEqual([fresh])
  // The evicted content is fetched again when asked for.
  expect(await download(second.url, origins[0]!.url())).toBe(old[0])
  await second.stop()
  await supernode.stop()
})
