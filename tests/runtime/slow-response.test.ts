import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { assertBuilt, dragonflyArgv, RUNTIMES, type RuntimeName } from './processes.ts'

// A supernode answers a pull only when there is work or after a 15 s long-poll, and a
// daemon streams a blob as pieces arrive; no runtime's server may cut such a response.
// Bun.serve's default idleTimeout (10 s) does, for a GET still waiting for its response
// or a body that stalls; runtime/bun.ts turns it off. Needs `npm run build` first.

const DELAY_MS = 12_000
const FIXTURE = join(import.meta.dirname, 'fixtures/slow-server.mjs')
const children: ReturnType<typeof spawn>[] = []

beforeAll(() => assertBuilt())
afterAll(() => {
  for (const child of children) child.kill('SIGKILL')
})

async function startSlowServer(runtime: RuntimeName): Promise<string> {
  // Same runtime binary and flags as the CLI, pointed at the fixture instead of bin/dragonfly.cjs.
  const [cmd, ...pre] = dragonflyArgv(runtime)
  const child = spawn(cmd, [...pre.slice(0, -1), FIXTURE, String(DELAY_MS)], { stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  let out = ''
  return new Promise((done, fail) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      const m = /^(\w+) (\d+) (\d+)$/m.exec(out)
      if (m) done(`${m[1]} http://127.0.0.1:${m[2]} http://127.0.0.1:${m[3]}`)
    })
    child.stderr!.on('data', (d: Buffer) => (out += d))
    child.on('close', () => fail(new Error(`slow server on ${runtime} exited: ${out}`)))
  })
}

describe('runtime servers keep slow responses open', () => {
  it(`a response after ${DELAY_MS / 1000} s and a body stalled for as long arrive whole on node, bun and deno`, async () => {
    const outcomes = await Promise.all(
      RUNTIMES.map(async (runtime) => {
        const [name, base, daemonStyle] = (await startSlowServer(runtime)).split(' ') as [string, string, string]
        const [late, stalled, daemonLate, daemonStalled] = await Promise.all(
          [`${base}/late`, `${base}/stalled`, `${daemonStyle}/late`, `${daemonStyle}/stalled`].map((url) =>
            fetch(url).then(
              (r) => r.text(),
              (error: Error) => `failed: ${(error.cause as Error | undefined)?.message ?? error.message}`,
            ),
          ),
        )
        return { runtime, name, late, stalled, daemonLate, daemonStalled }
      }),
    )
    expect(outcomes).toEqual(
      RUNTIMES.map((runtime) => ({ runtime, name: runtime, late: 'late', stalled: 'part0part1', daemonLate: 'late', daemonStalled: 'part0part1' })),
    )
  }, 120_000)
})
