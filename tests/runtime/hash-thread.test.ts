import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixtureCommands, runFixture } from '../helpers/runtime-fixture.ts'

// sha256 of received pieces off the event loop: on Node a worker_threads Worker, on Deno a Web Worker (a Deno
// get of 1 GiB: 2.15-2.56 s with sha256 on its event loop, 1.66-2.05 s with the thread). A Web Worker cannot be
// unref'd, so Deno's ends when idle: the process must still exit on its own.
const { node, deno } = fixtureCommands(join(import.meta.dirname, 'fixtures/hash-thread-check.ts'))

describe.each(Object.entries({ node, deno }))('piece hashing on %s', (runtime, command) => {
  it('hashes shared receive memory on a thread, right, twice, and lets the process exit', async () => {
    const { result, output, exited } = await runFixture(command, 20_000)
    expect(result, output).toEqual({ runtime, threaded: true, shared: true, first: true, second: true })
    expect(exited, `still running after 20 s:\n${output}`).toBe(true)
  }, 60_000)
})
