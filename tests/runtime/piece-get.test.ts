import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// Bun's and Deno's adapters read piece bodies over their own TCP clients (Bun.connect, Deno.connect)
// straight into the receive buffer. Whatever the answer, a peer keeps only bytes that match the digest:
// a flipped byte is a digest failure, a body cut short a failed fetch, a chunked answer is read through
// fetch, and a kept-alive connection serves the next piece. Runs the sources (no build needed).

const ROOT = resolve(import.meta.dirname, '../..')
const FIXTURE = join(import.meta.dirname, 'fixtures/piece-get-check.ts')
const COMMANDS = {
  bun: [join(ROOT, 'node_modules/.bin/bun'), FIXTURE],
  deno: [join(ROOT, 'node_modules/.bin/deno'), 'run', '-A', FIXTURE],
} as const

function check(command: readonly string[]): Promise<string> {
  const [cmd, ...args] = command
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } })
  let out = ''
  child.stdout.on('data', (d: Buffer) => (out += d))
  child.stderr.on('data', (d: Buffer) => (out += d))
  return new Promise((done) => child.on('close', () => done(out)))
}

describe.each(Object.entries(COMMANDS))('piece GET on %s', (runtime, command) => {
  it('verifies what it reads in place: good pieces pass, a flipped byte or a short body never does', async () => {
    const out = await check(command)
    const line = out.split('\n').find((l) => l.startsWith('{'))
    expect(line, out).toBeDefined()
    expect(JSON.parse(line!)).toEqual({
      runtime,
      inPlace: true,
      outcomes: { whole: 'ok', flipped: 'digest', chunked: 'ok', short: 'unreachable', again: 'ok' },
      // Bun hands each socket read in memory of its own, freed once copied (it waited for the GC: most of a Bun get's RSS).
      readsFreed: runtime === 'bun' ? true : 'n/a',
    })
  }, 60_000)
})
