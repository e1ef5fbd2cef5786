import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixtureCommands, runFixture } from '../helpers/runtime-fixture.ts'

// sha256 of received pieces off the event loop: on Node a worker_threads Worker, on Bun and Deno a Web Worker (a
// Deno get of 1 GiB: 2.15-2.56 s with sha256 on its event loop, 1.66-2.05 s with the thread; a Bun get 1.28-1.29 s
// against 1.04-1.14 s). Bun's Worker is unref'd while idle; Deno's cannot be, so it ends when idle: either way the
// process must exit on its own.
const { node, bun, deno } = fixtureCommands(join(import.meta.dirname, 'fixtures/hash-thread-check.ts'))

describe.each(Object.entries({ node, bun, deno }))('piece hashing on %s', (runtime, command) => {
  it('hashes shared receive memory on a thread, right, twice, and lets the process exit', async () => {
    const { result, output, exited } = await runFixture(command, 20_000)
    expect(result, output).toEqual({ runtime, threaded: true, shared: true, first: true, second: true })
    expect(exited, `still running after 20 s:\n${output}`).toBe(true)
  }, 60_000)
})
