import { mkdir, stat, symlink, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'

const DIST = resolve(import.meta.dirname, '../../dist')
afterAll(() => killAll())

it("source-file's root jail in a real supernode: a file under root is served, files outside it are 403 (exit 6), nothing written", async () => {
  const dir = await tempDir()
  const root = join(dir, 'public')
  await mkdir(root)
  const inside = await randomFile(root, 3 * 1024 * 1024, 'blob')
  await writeFile(join(dir, 'secret'), 'not for peers')
  await symlink(join(dir, 'secret'), join(root, 'link-out'))
  const config = join(dir, 'jail.config.mjs')
  await writeFile(
    config,
    [
      `import storageFs from ${JSON.stringify(join(DIST, 'plugins/storage-fs.mjs'))}`,
      `import sourceFile from ${JSON.stringify(join(DIST, 'plugins/source-file.mjs'))}`,
      `export default { plugins: [storageFs(), sourceFile({ root: ${JSON.stringify(root)} })] }`,
    ].join('\n'),
  )
  const supernode = await startSupernode(join(dir, 'sn'), ['--config', config])
  try {
    const get = (url: string, name: string) =>
      dragonfly([
        'get',
        url,
        '-o',
        join(dir, name),
        '--supernode',
        supernode.url,
        '--home',
        join(dir, `h-${name}`),
        '--no-back-source',
        '--daemon',
        'off',
        '--json',
      ])
    const ok = get(pathToFileURL(inside).href, 'ok')
    expect(await ok.done, ok.stderr).toBe(0)
    expect(await sha256File(join(dir, 'ok'))).toBe(await sha256File(inside))
    const cases = [
      ['outside', pathToFileURL(join(dir, 'secret')).href],
      // A sibling whose name starts like the root is outside it too.
      ['sibling', pathToFileURL(join(dir, 'public-not')).href],
      ['symlink', pathToFileURL(join(root, 'link-out')).href],
    ] as const
    for (const [name, url] of cases) {
      const refused = get(url, name)
      expect(await refused.done, `${name}: ${refused.stdout}${refused.stderr}`).toBe(6)
      expect(parseJsonLine<{ error: { code: string; message: string } }>(refused.stdout).error).toMatchObject({ code: 'E_SOURCE_STATUS' })
      await expect(stat(join(dir, name))).rejects.toMatchObject({ code: 'ENOENT' })
    }
  } finally {
    await supernode.stop()
  }
})
