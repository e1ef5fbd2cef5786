import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'

const MiB = 1024 * 1024
const origins: Origin[] = []
afterAll(async () => {
  killAll()
  for (const o of origins) await o.close()
})

const errorOf = (stdout: string): string => parseJsonLine<{ error: { code: string } }>(stdout).error.code

it('preheat: complete (exit 0), --timeout running out (E_TIMEOUT, exit 11), a 404 source (exit 6); dragonfly_tasks_finished_total counts them', async () => {
  const dir = await tempDir()
  const fast = await startOrigin(await randomFile(dir, 2 * MiB, 'fast'))
  // 8 MiB at 1 MiB/s: about 8 s of caching, far beyond a 1 s timeout.
  const slow = await startOrigin(await randomFile(dir, 8 * MiB, 'slow'), { rate: MiB })
  origins.push(fast, slow)
  const supernode = await startSupernode(join(dir, 'sn'))
  const finished = async (result: string) =>
    sampleValue(parsePromText(await (await fetch(`${supernode.url}/metrics`)).text()), 'dragonfly_tasks_finished_total', { result })
  try {
    const ok = dragonfly(['preheat', fast.url(), '--supernode', supernode.url, '--json'])
    expect(await ok.done, ok.stdout + ok.stderr).toBe(0)
    expect(await finished('complete')).toBe(1)

    const late = dragonfly(['preheat', slow.url(), '--supernode', supernode.url, '--timeout', '1', '--json'])
    expect(await late.done, late.stdout + late.stderr).toBe(11)
    expect(errorOf(late.stdout)).toBe('E_TIMEOUT')

    const missing = dragonfly(['preheat', fast.url('/nothing-here'), '--supernode', supernode.url, '--json'])
    expect(await missing.done, missing.stdout + missing.stderr).toBe(6)
    expect(errorOf(missing.stdout)).toBe('E_SOURCE_STATUS')
    await expect.poll(() => finished('failed'), { timeout: 5_000 }).toBe(1)
    // The timed-out preheat did not stop the supernode's fetch: it completes by itself.
    await expect.poll(() => finished('complete'), { timeout: 90_000, interval: 500 }).toBe(2)
  } finally {
    await supernode.stop()
  }
})

it('get handed to a daemon that dies mid-download: E_DOWNLOAD_FAILED (exit 8), nothing at -o', async () => {
  const dir = await tempDir()
  const slow = await startOrigin(await randomFile(dir, 16 * MiB, 'slow'), { rate: 2 * MiB })
  origins.push(slow)
  const supernode = await startSupernode(join(dir, 'sn'))
  const daemon = await startDaemon(join(dir, 'daemon'), supernode.url)
  try {
    const out = join(dir, 'out')
    const get = dragonfly(['get', slow.url(), '-o', out, '--daemon', daemon.url, '--home', join(dir, 'home'), '--json'])
    // Killed once the daemon is streaming this download to the get (bytes have left the origin).
    await expect
      .poll(
        async () => {
          const { tasks } = (await (await fetch(`${daemon.url}${DAEMON_ROUTES.tasks}`)).json()) as { tasks: unknown[] }
          return tasks.length > 0 && slow.bytes > MiB
        },
        { timeout: 30_000, interval: 100 },
      )
      .toBe(true)
    daemon.run.child.kill('SIGKILL')
    expect(await get.done, get.stdout + get.stderr).toBe(8)
    expect(errorOf(get.stdout)).toBe('E_DOWNLOAD_FAILED')
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' })
  } finally {
    await supernode.stop()
  }
})
