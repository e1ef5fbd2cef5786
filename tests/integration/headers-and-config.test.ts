import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadDragonflyConfig } from '../../config/index.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

afterAll(() => killAll())

describe('-H headers reach the source', () => {
  it('through the supernode, and when going back to source', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, 3 * 1024 * 1024)
    const origin = await startOrigin(file, { auth: 'Bearer s3cret' })
    const supernode = await startSupernode(join(dir, 'sn'))
    try {
      const denied = dragonfly(['get', origin.url(), '-o', join(dir, 'denied'), '--supernode', supernode.url, '--home', join(dir, 'd'), '--json'])
      expect(await denied.done).toBe(6)
      expect(parseJsonLine<{ error: { code: string; details?: { status: number } } }>(denied.stdout).error).toMatchObject({
        code: 'E_SOURCE_STATUS',
        details: { status: 401 },
      })
      expect(existsSync(join(dir, 'denied'))).toBe(false)

      const viaSupernode = dragonfly([
        'get',
        `${origin.url()}?sig=1`,
        '-o',
        join(dir, 'a'),
        '--supernode',
        supernode.url,
        '-H',
        'Authorization: Bearer s3cret',
        '--home',
        join(dir, 'a-home'),
        '--json',
      ])
      expect(await viaSupernode.done, viaSupernode.stderr).toBe(0)
      expect(await sha256File(join(dir, 'a'))).toBe(await sha256File(file))

      const direct = dragonfly([
        'get',
        `${origin.url()}?sig=2`,
        '-o',
        join(dir, 'b'),
        '-H',
        'Authorization: Bearer s3cret',
        '--home',
        join(dir, 'b-home'),
        '--json',
      ])
      expect(await direct.done, direct.stderr).toBe(0)
      expect(parseJsonLine<{ bytesFromSource: number; backToSource: boolean }>(direct.stdout)).toMatchObject({
        bytesFromSource: 3 * 1024 * 1024,
        backToSource: true,
      })
      const authorized = origin.requests.filter((r) => r.headers.authorization === 'Bearer s3cret')
      expect(authorized.map((r) => r.path)).toEqual(['/file?sig=1', '/file?sig=2'])
    } finally {
      await supernode.stop()
      await origin.close()
    }
  })

  it('--filter makes differently signed URLs one task: the second get is served from the cache', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, 1024 * 1024)
    const origin = await startOrigin(file)
    const supernode = await startSupernode(join(dir, 'sn'))
    try {
      for (const sig of ['one', 'two']) {
        const run = dragonfly([
          'get',
          `${origin.url()}?Signature=${sig}&v=1`,
          '-o',
          join(dir, sig),
          '--filter',
          'Signature',
          '--supernode',
          supernode.url,
          '--home',
          join(dir, `h-${sig}`),
          '--json',
        ])
        expect(await run.done, run.stderr).toBe(0)
      }
      expect(origin.requests).toHaveLength(1)
      expect(origin.bytes).toBe(1024 * 1024)
    } finally {
      await supernode.stop()
      await origin.close()
    }
  })
})

describe('config', () => {
  it('a user plugins list replaces the default one; missing core slots are filled', async () => {
    const dir = await tempDir()
    const root = resolve(import.meta.dirname, '../..')
    await writeFile(
      join(dir, 'dragonfly.config.mjs'),
      `import sourceHttp from '${root}/dist/plugins/source-http.mjs'\nexport default { plugins: [sourceHttp({ headersTimeoutMs: 1234 })], peer: { concurrency: 3 } }\n`,
    )
    const config = await loadDragonflyConfig({ cwd: dir })
    expect(config.plugins.map((p) => p.name)).toEqual(['storage-fs', 'source-http'])
    expect(config.peer.concurrency).toBe(3)
    expect(config.supernode.port).toBe(8002)
    const flags = await loadDragonflyConfig({ cwd: dir, overrides: { peer: { concurrency: 5 } } })
    expect(flags.peer.concurrency).toBe(5)
  })

  it('finds the file where c12 looks (dragonfly.config.*, .config/dragonfly.*, .config/dragonfly.config.*), and runs on defaults without one', async () => {
    const none = await tempDir()
    await writeFile(join(none, 'dragonfly.json'), '{ "peer": { "concurrency": 2 } }')
    expect((await loadDragonflyConfig({ cwd: none })).peer.concurrency).toBe(8)
    const layouts: [string, string][] = [
      ['', 'dragonfly.config.json'],
      ['.config', 'dragonfly.json'],
      ['.config', 'dragonfly.config.json'],
    ]
    for (const [sub, name] of layouts) {
      const dir = await tempDir()
      await mkdir(join(dir, sub), { recursive: true })
      await writeFile(join(dir, sub, name), '{ "peer": { "concurrency": 3 } }')
      expect((await loadDragonflyConfig({ cwd: dir })).peer.concurrency, join(sub, name)).toBe(3)
    }
  })

  it('a malformed or invalid config file is a clear error naming the file', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'broken.config.mjs'), 'export default {{{')
    await expect(loadDragonflyConfig({ cwd: dir, configFile: 'broken.config.mjs' })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('broken.config.mjs'),
    })
    await writeFile(join(dir, 'bad.config.mjs'), 'export default { supernode: { port: "x" } }')
    await expect(loadDragonflyConfig({ cwd: dir, configFile: 'bad.config.mjs' })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: expect.stringContaining('supernode.port'),
    })
    const run = dragonfly(['supernode', '--config', join(dir, 'missing.config.ts'), '--port', '0'])
    expect(await run.done).toBe(9)
    expect(run.stderr + run.stdout).toContain('E_CONFIG')
  })
})
