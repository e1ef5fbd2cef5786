import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { dragonfly, killAll, parseJsonLine, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

const DIST = resolve(import.meta.dirname, '../../dist')
afterAll(() => killAll())

it('CLI processes with compress + encrypt + auth-header in --config: same file, fewer wire bytes, 401 without the token', async () => {
  const dir = await tempDir()
  const lines: string[] = []
  for (let i = 0; lines.length < 120_000; i++) lines.push(`${i} INFO pulled layer sha256:${(i * 2654435761).toString(16)} in ${i % 977} ms`)
  const text = lines.join('\n')
  await writeFile(join(dir, 'app.log'), text)
  const config = join(dir, 'cluster.config.mjs')
  await writeFile(
    config,
    [
      `import authHeader from ${JSON.stringify(join(DIST, 'plugins/auth-header.mjs'))}`,
      `import compress from ${JSON.stringify(join(DIST, 'plugins/compress.mjs'))}`,
      `import encrypt from ${JSON.stringify(join(DIST, 'plugins/encrypt.mjs'))}`,
      `import storageFs from ${JSON.stringify(join(DIST, 'plugins/storage-fs.mjs'))}`,
      `export default { plugins: [storageFs(), encrypt({ secret: 'cluster secret for the cli test' }), compress(), authHeader({ token: 'cli-token' })] }`,
    ].join('\n'),
  )
  const origin = await startOrigin(join(dir, 'app.log'))
  const supernode = await startSupernode(join(dir, 'sn'), ['--config', config])
  try {
    const get = (name: string) =>
      dragonfly(['get', origin.url(), '-o', join(dir, name), '--supernode', supernode.url, '--home', join(dir, `h-${name}`), '--config', config, '--json'])
    const runs = [get('a'), get('b')]
    const codes = await Promise.all(runs.map((r) => r.done))
    expect(codes, runs.map((r) => r.stderr).join('\n')).toEqual([0, 0])
    for (const name of ['a', 'b']) expect(await sha256File(join(dir, name))).toBe(await sha256File(join(dir, 'app.log')))
    for (const run of runs) {
      const out = parseJsonLine<{ bytes: number; wireBytes: number }>(run.stdout)
      console.log(`wireBytes ${out.wireBytes} of ${out.bytes} (${(out.wireBytes / out.bytes).toFixed(3)}x)`)
      expect(out.wireBytes).toBeLessThan(out.bytes * 0.6)
    }
    expect((await fetch(`${supernode.url}/api/v1/tasks`)).status).toBe(401)
    expect((await fetch(`${supernode.url}/api/v1/tasks`, { headers: { authorization: 'Bearer cli-token' } })).status).toBe(200)
    const noToken = dragonfly([
      'get',
      origin.url(),
      '-o',
      join(dir, 'c'),
      '--supernode',
      supernode.url,
      '--home',
      join(dir, 'h-c'),
      '--no-back-source',
      '--json',
    ])
    expect(await noToken.done).not.toBe(0)
    expect(noToken.stdout + noToken.stderr).toMatch(/E_UNAUTHORIZED/)
  } finally {
    await supernode.stop()
    await origin.close()
  }
})
