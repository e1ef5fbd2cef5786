import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

// Full disks for real: small tmpfs mounts (root only; CI runs as root).
const MiB = 1024 * 1024
const isRoot = process.getuid?.() === 0
const mounts: string[] = []
const closers: (() => Promise<void>)[] = []
afterAll(async () => {
  killAll()
  for (const c of closers.reverse()) await c()
  for (const m of mounts) execFileSync('umount', ['-l', m])
})

async function smallDisk(dir: string, name: string, mib: number): Promise<string> {
  const path = join(dir, name)
  await mkdir(path, { recursive: true })
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', path])
  mounts.push(path)
  return path
}

describe.skipIf(!isRoot)('a full disk is a clear error, never a partial file', () => {
  it('get refuses before downloading when --home cannot hold the file (E_NO_SPACE, exit 10)', async () => {
    const dir = await tempDir()
    const origin = await startOrigin(await randomFile(dir, 16 * MiB))
    closers.push(() => origin.close())
    const sn = await startSupernode(join(dir, 'sn'))
    closers.push(() => sn.stop())
    const home = await smallDisk(dir, 'home', 4)

    for (const via of [['--supernode', sn.url], []]) {
      const out = join(dir, `out-${via.length}`)
      const run = dragonfly(['get', origin.url(), '-o', out, '--home', home, '--daemon', 'off', '--json', ...via])
      expect(await run.done).toBe(10)
      const { error } = parseJsonLine<{ error: { code: string; message: string } }>(run.stdout)
      expect(error.code).toBe('E_NO_SPACE')
      expect(error.message).toMatch(/needs 16\.0 MiB, \d+\.\d MiB free/)
      expect(existsSync(out)).toBe(false)
    }
  }, 60_000)

  it('a supernode with a full cache disk refuses the task; the peer goes to the source and finishes', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, 16 * MiB)
    const origin = await startOrigin(file)
    closers.push(() => origin.close())
    const sn = await startSupernode(await smallDisk(dir, 'sn', 4))
    closers.push(() => sn.stop())

    const run = dragonfly(['get', origin.url(), '-o', join(dir, 'out'), '--supernode', sn.url, '--home', join(dir, 'p'), '--daemon', 'off', '--json'])
    expect(await run.done).toBe(0)
    expect(parseJsonLine<{ bytesFromSource: number }>(run.stdout).bytesFromSource).toBe(16 * MiB)
    expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
    expect(sn.run.stdout + sn.run.stderr).toMatch(/task failed.*E_NO_SPACE|E_NO_SPACE.*task failed/s)
    expect((await fetch(`${sn.url}/healthz`)).status).toBe(200)
  }, 60_000)

  it('an output directory that fills while the file is copied there: E_NO_SPACE, no file left behind', async () => {
    const dir = await tempDir()
    const origin = await startOrigin(await randomFile(dir, 16 * MiB))
    closers.push(() => origin.close())
    const outDir = await smallDisk(dir, 'out', 4)

    const run = dragonfly(['get', origin.url(), '-o', join(outDir, 'file'), '--home', join(dir, 'p'), '--daemon', 'off', '--json'])
    expect(await run.done).toBe(10)
    expect(parseJsonLine<{ error: { code: string } }>(run.stdout).error.code).toBe('E_NO_SPACE')
    expect(await readdir(outDir)).toEqual([])
  }, 60_000)
})
