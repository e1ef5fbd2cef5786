import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { type FileOrigin, startFileOrigin } from './file-origin.ts'
import { assertBuilt, cleanup, describeProc, parseJsonOutput, runDragonfly, sha256File, startSupernode, tempDir } from './processes.ts'

// compress (brotli where the runtime has it, else gzip) + encrypt + auth-header
// across runtimes: a Bun supernode, Node and Deno peers, one config file.

const DIST = resolve(import.meta.dirname, '../../dist')
let origin: FileOrigin | undefined
afterAll(async () => {
  await cleanup()
  await origin?.close()
}, 60_000)

it('a bun supernode and node and deno peers with compress + encrypt + auth-header from one config file', async () => {
  assertBuilt()
  const cwd = await tempDir('df-plug-cwd-')
  const src = await tempDir('df-plug-src-')
  const lines: string[] = []
  for (let i = 0; lines.length < 100_000; i++) lines.push(`${i} INFO layer sha256:${(i * 2654435761).toString(16)} pulled in ${i % 977} ms`)
  await writeFile(join(src, 'app.log'), lines.join('\n'))
  const imports = ['auth-header', 'compress', 'encrypt', 'storage-fs', 'source-http'].map(
    (p) => `import * as ${p.replace('-', '_')} from ${JSON.stringify(join(DIST, `plugins/${p}.mjs`))}`,
  )
  await writeFile(
    join(cwd, 'dragonfly.config.mjs'),
    `${imports.join('\n')}\nexport default { plugins: [storage_fs.default(), source_http.default(), encrypt.default({ secret: 'runtime matrix secret' }), compress.default({ codecs: ['brotli', 'gzip'] }), auth_header.default({ token: 'rt-token' })] }\n`,
  )
  origin = await startFileOrigin(join(src, 'app.log'))
  const home = await tempDir('df-plug-')
  const supernode = await startSupernode('bun', join(home, 'sn'), cwd)
  expect((await fetch(`${supernode.url}/api/v1/tasks`)).status).toBe(401)
  const peers = (['node', 'deno'] as const).map((runtime) => {
    const output = join(home, `out-${runtime}`)
    return {
      runtime,
      output,
      proc: runDragonfly(runtime, ['get', origin!.url, '-o', output, '--supernode', supernode.url, '--json', '--home', join(home, runtime)], cwd),
    }
  })
  const codes = await Promise.all(peers.map((p) => p.proc.exited))
  for (const [i, p] of peers.entries()) expect(codes[i], describeProc(p.proc)).toBe(0)
  const expected = await sha256File(join(src, 'app.log'))
  for (const p of peers) {
    expect(await sha256File(p.output)).toBe(expected)
    const out = parseJsonOutput<{ bytes: number; wireBytes: number; backToSource: boolean }>(p.proc)
    expect(out.backToSource).toBe(false)
    expect(out.wireBytes, p.runtime).toBeLessThan(out.bytes * 0.6)
  }
  expect(await supernode.stop(), describeProc(supernode.proc)).toBe(0)
}, 300_000)
