import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'
import { BIN } from '../helpers/cli.ts'

const ROOT = join(import.meta.dirname, '../..')
const BUN = join(ROOT, 'node_modules/.bin/bun')
const DENO = join(ROOT, 'node_modules/.bin/deno')

/** Exit code and output, whatever the exit code. */
async function run(file: string, args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string }> {
  const { npm_lifecycle_event: _e, npm_execpath: _p, ...base } = process.env
  try {
    const { stdout, stderr } = await promisify(execFile)(file, args, { env: { ...base, NO_COLOR: '1', ...env }, timeout: 120_000 })
    return { code: 0, out: stdout + stderr }
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }
  }
}

const demo = ['demo', '--peers', '2', '--size', '2']

it('started by bunx (which follows the node shebang), the CLI runs on Bun and says so', async () => {
  // What bunx sets for the binary it runs (seen with `bun x dragonfly` on an installed tarball).
  const bunx = await run(process.execPath, [BIN, ...demo], { npm_lifecycle_event: 'bunx', npm_execpath: BUN })
  expect(bunx.code, bunx.out).toBe(0)
  expect(bunx.out).toMatch(/2 peers \(bun\)/)
  // Controls: plain node stays on Node, and DRAGONFLY_RUNTIME=node keeps bunx on Node.
  expect((await run(process.execPath, [BIN, ...demo])).out).toMatch(/2 peers \(node\)/)
  const kept = await run(process.execPath, [BIN, ...demo], { npm_lifecycle_event: 'bunx', npm_execpath: BUN, DRAGONFLY_RUNTIME: 'node' })
  expect(kept.out).toMatch(/2 peers \(node\)/)
}, 180_000)

it('on Deno, a missing permission is named in words, with the command that grants them (no stack trace)', async () => {
  const none = await run(DENO, ['run', BIN, '--version'])
  expect(none.code).toBe(13)
  expect(none.out).toContain('E_PERMISSION')
  expect(none.out).toContain('environment variables (--allow-env)')
  expect(none.out).not.toMatch(/\bat .+:\d+:\d+/)
  const noSys = await run(DENO, ['run', '--allow-net', '--allow-read', '--allow-write', '--allow-env', BIN, '--version'])
  expect(noSys.code).toBe(13)
  expect(noSys.out).toContain('(--allow-sys)')
  expect(noSys.out).not.toContain('(--allow-env)')
  // Control: the permissions docs/runtimes.md lists are enough for a whole swarm.
  const listed = await run(DENO, ['run', '--allow-net', '--allow-read', '--allow-write', '--allow-env', '--allow-sys', BIN, ...demo])
  expect(listed.code, listed.out).toBe(0)
  expect(listed.out).toMatch(/2 peers \(deno\)/)
  expect(listed.out).toContain('outputs identical')
}, 180_000)
