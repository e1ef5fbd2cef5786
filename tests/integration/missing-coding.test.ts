import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

const DIST = resolve(import.meta.dirname, '../../dist')
afterAll(() => killAll())

it('a peer without the encrypt plugin the swarm requires fails with E_PLUGIN naming it, instead of retrying forever', async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 2 * 1024 * 1024)
  const config = join(dir, 'swarm.config.mjs')
  await writeFile(
    config,
    [
      `import encrypt from ${JSON.stringify(join(DIST, 'plugins/encrypt.mjs'))}`,
      `import storageFs from ${JSON.stringify(join(DIST, 'plugins/storage-fs.mjs'))}`,
      `export default { plugins: [storageFs(), encrypt({ secret: 'missing coding test secret' })] }`,
    ].join('\n'),
  )
  const origin = await startOrigin(file)
  const supernode = await startSupernode(join(dir, 'sn'), ['--config', config])
  try {
    const get = (name: string, ...extra: string[]) =>
      dragonfly([
        'get',
        origin.url(),
        '-o',
        join(dir, name),
        '--supernode',
        supernode.url,
        '--home',
        join(dir, `h-${name}`),
        '--no-back-source',
        '--json',
        ...extra,
      ])
    const without = get('without')
    expect(await without.done, without.stderr).toBe(9)
    const error = parseJsonLine<{ error: { code: string; message: string; details: Record<string, string> } }>(without.stdout).error
    expect(error).toMatchObject({ code: 'E_PLUGIN', details: { coding: 'aes256gcm', plugin: 'encrypt' } })
    expect(error.message).toContain('encrypt')
    // Control: the same download with the plugin succeeds.
    const withPlugin = get('with', '--config', config)
    expect(await withPlugin.done, withPlugin.stderr).toBe(0)
    expect(await sha256File(join(dir, 'with'))).toBe(await sha256File(file))
  } finally {
    await supernode.stop()
    await origin.close()
  }
}, 120_000)
