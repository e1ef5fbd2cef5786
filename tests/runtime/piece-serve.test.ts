import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// A piece server on Bun or Deno sends plain pieces from the store's file (storage-fs's `bodyAt`), not
// through JS memory: Bun a file-backed Blob, Deno the file's stream cut at the Content-Length. Each piece
// must come back byte for byte, mid-file and last, one after another on a kept-alive connection.
// Node reads them into memory. Runs the sources (no build needed).

const ROOT = resolve(import.meta.dirname, '../..')
const FIXTURE = join(import.meta.dirname, 'fixtures/piece-serve-check.ts')
const COMMANDS = {
  bun: [join(ROOT, 'node_modules/.bin/bun'), FIXTURE],
  deno: [join(ROOT, 'node_modules/.bin/deno'), 'run', '-A', FIXTURE],
  node: [process.execPath, '--import', 'jiti/register', FIXTURE],
} as const

function check(command: readonly string[]): Promise<string> {
  const [cmd, ...args] = command
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d))
  child.stderr.on('data', (d: Buffer) => (out += d))
  return new Promise((done) => child.on('close', () => done(out)))
}

describe.each(Object.entries(COMMANDS))('piece serving on %s', (runtime, command) => {
  it('sends every piece exactly, from the file where the runtime can', async () => {
    const out = await check(command)
    const line = out.split('\n').find((l) => l.startsWith('{'))
    expect(line, out).toBeDefined()
    expect(JSON.parse(line!)).toEqual({ runtime, exact: true, fromFile: runtime !== 'node' })
  }, 60_000)
})
