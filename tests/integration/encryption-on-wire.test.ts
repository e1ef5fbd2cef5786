import { stat, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { dragonfly, killAll, parseJsonLine, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'
import { startTcpRelay } from '../helpers/tcp-relay.ts'

const DIST = resolve(import.meta.dirname, '../../dist')
const MARKER = 'plaintext-marker-that-must-not-travel'

let dir: string
let origin: Origin
beforeAll(async () => {
  dir = await tempDir()
  const lines: string[] = []
  for (let i = 0; lines.length < 60_000; i++) lines.push(`${i} ${MARKER} ${(i * 2654435761) % 1000003}`)
  await writeFile(join(dir, 'text.log'), lines.join('\n'))
  origin = await startOrigin(join(dir, 'text.log'))
})
afterAll(async () => {
  killAll()
  await origin?.close()
})

/** A supernode and one `get` as real processes, the get reaching the supernode only through a relay that keeps the bytes. */
async function getThroughRelay(name: string, plugins: string[]): Promise<{ wire: Buffer; out: string }> {
  const config = join(dir, `${name}.config.mjs`)
  const imports = ['storage-fs', ...plugins].map((p) => `import p_${p.replace('-', '_')} from ${JSON.stringify(join(DIST, `plugins/${p}.mjs`))}`)
  const list = [`p_storage_fs()`, ...plugins.map((p) => `p_${p}({ secret: 'a shared secret for the wire test' })`)]
  await writeFile(config, [...imports, `export default { plugins: [${list.join(', ')}] }`].join('\n'))
  const supernode = await startSupernode(join(dir, `sn-${name}`), ['--config', config])
  const relay = await startTcpRelay({ host: '127.0.0.1', port: Number(new URL(supernode.url).port) })
  try {
    const out = join(dir, `out-${name}`)
    const get = dragonfly(
      [
        'get',
        origin.url(),
        '-o',
        out,
        '--supernode',
        relay.url,
        '--home',
        join(dir, `h-${name}`),
        '--no-back-source',
        '--daemon',
        'off',
        '--config',
        config,
        '--json',
      ],
      {
        cwd: dir,
      },
    )
    expect(await get.done, get.stderr).toBe(0)
    expect(parseJsonLine<{ bytesFromSupernode: number }>(get.stdout).bytesFromSupernode).toBeGreaterThan(0)
    return { wire: relay.fromTarget(), out }
  } finally {
    await relay.close()
    await supernode.stop()
  }
}

it('with encrypt, the plaintext never crosses the wire between real processes, and the file arrives intact', async () => {
  const plain = await getThroughRelay('plain', [])
  // Positive control: without the plugin the same relay sees the text, so the capture works.
  expect(plain.wire.includes(MARKER)).toBe(true)
  expect(await sha256File(plain.out)).toBe(await sha256File(join(dir, 'text.log')))
  const sealed = await getThroughRelay('sealed', ['encrypt'])
  // Every piece came over the relay: the wire carried at least the file's size, none of it readable.
  expect(sealed.wire.length).toBeGreaterThan((await stat(join(dir, 'text.log'))).size)
  expect(sealed.wire.includes(MARKER)).toBe(false)
  expect(await sha256File(sealed.out)).toBe(await sha256File(join(dir, 'text.log')))
})

it('a get without the encrypt plugin is refused the pieces of an encrypting supernode: E_PLUGIN naming it (exit 9), nothing written', async () => {
  const config = join(dir, 'only-sn.config.mjs')
  await writeFile(
    config,
    [
      `import storageFs from ${JSON.stringify(join(DIST, 'plugins/storage-fs.mjs'))}`,
      `import encrypt from ${JSON.stringify(join(DIST, 'plugins/encrypt.mjs'))}`,
      `export default { plugins: [storageFs(), encrypt({ secret: 'a shared secret for the wire test' })] }`,
    ].join('\n'),
  )
  const supernode = await startSupernode(join(dir, 'sn-406'), ['--config', config])
  try {
    const out = join(dir, 'out-406')
    const args = ['get', origin.url(), '-o', out, '--supernode', supernode.url, '--no-back-source', '--daemon', 'off', '--json']
    const refused = dragonfly([...args, '--home', join(dir, 'h-406')], { cwd: dir })
    // The 406 names the coding it requires, so the get stops at once naming the plugin (missing-coding.test.ts has the details).
    expect(await refused.done, refused.stdout + refused.stderr).toBe(9)
    expect(parseJsonLine<{ error: { code: string } }>(refused.stdout).error.code).toBe('E_PLUGIN')
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' })
    // Positive control: the same command with the plugin gets the file.
    const accepted = dragonfly([...args, '--home', join(dir, 'h-406-ok'), '--config', config], { cwd: dir })
    expect(await accepted.done, accepted.stderr).toBe(0)
    expect(await sha256File(out)).toBe(await sha256File(join(dir, 'text.log')))
  } finally {
    await supernode.stop()
  }
})
