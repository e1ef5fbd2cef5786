import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { fixtureCommands, ROOT } from '../helpers/runtime-fixture.ts'
import { CHUNK, CHUNKS, expectPattern, leaveAfter, readSlowly } from '../helpers/scribbling-body.ts'

// A body of lent chunks (ServeBindings.sendLent: the daemon's content stream, read into a few reused piece
// buffers) on the server the daemon's port runs on, per runtime: Bun's node:http (the write callback) and
// Deno's own server (conn.write resolving). The body scribbles over a buffer the moment it comes back, so a
// chunk given back before it was written reaches the client scribbled. Node: tests/unit/lent-body.test.ts.

const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) child.kill('SIGKILL')
})

async function startFixture(runtime: 'bun' | 'deno'): Promise<number> {
  const [cmd, ...args] = fixtureCommands(join(import.meta.dirname, 'fixtures/lent-server.ts'))[runtime]
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } })
  children.push(child)
  let out = ''
  return new Promise<number>((done, fail) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      const m = /\{"port":(\d+),"runtime":"(\w+)"\}/.exec(out)
      if (m) done(Number(m[1]))
    })
    child.stderr!.on('data', (d: Buffer) => (out += d))
    child.on('close', () => fail(new Error(`fixture exited: ${out}`)))
  })
}

describe.each(['bun', 'deno'] as const)('a lent body on %s', (runtime) => {
  it('reaches a slow client byte for byte, each chunk given back only once written; a client leaving cancels it', async () => {
    const port = await startFixture(runtime)
    expectPattern(await readSlowly(port, '/lent'))
    const state = async () =>
      (await fetch(`http://127.0.0.1:${port}/state`).then((r) => r.json())) as { released: number; handedOut: number; cancelled: boolean }
    // (A cancel after the last chunk, as Bun's 'close' gives, is harmless: the body has ended.)
    expect(await state()).toMatchObject({ released: CHUNKS, handedOut: CHUNKS })
    // Gone after 3 chunks: the body is cancelled and every chunk handed out comes back.
    await leaveAfter(port, '/lent', 3 * CHUNK)
    await vi.waitFor(async () => {
      const after = await state()
      expect(after.cancelled).toBe(true)
      expect(after.released).toBe(after.handedOut)
      expect(after.handedOut).toBeLessThan(CHUNKS)
    })
  }, 60_000)
})
