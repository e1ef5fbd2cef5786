import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixtureCommands, runFixture } from '../helpers/runtime-fixture.ts'

// Bun's and Deno's adapters read piece bodies over their own TCP clients (Bun.connect, Deno.connect)
// straight into the receive buffer. Whatever the answer, a peer keeps only bytes that match the digest:
// a flipped byte is a digest failure, a body cut short a failed fetch, a chunked answer is read through
// fetch, and a kept-alive connection serves the next piece. Runs the sources (no build needed).

const { bun, deno } = fixtureCommands(join(import.meta.dirname, 'fixtures/piece-get-check.ts'))
const COMMANDS = { bun, deno }
const ABORT_COMMANDS = fixtureCommands(join(import.meta.dirname, 'fixtures/piece-get-abort-check.ts'))

describe.each(Object.entries(COMMANDS))('piece GET on %s', (runtime, command) => {
  it('verifies what it reads in place: good pieces pass, a flipped byte or a short body never does', async () => {
    const { result, output } = await runFixture(command)
    expect(result, output).toEqual({
      runtime,
      inPlace: true,
      outcomes: { whole: 'ok', flipped: 'digest', chunked: 'ok', short: 'unreachable', again: 'ok' },
      // Bun hands each socket read in memory of its own, freed once copied (it waited for the GC: most of a Bun get's RSS).
      readsFreed: runtime === 'bun' ? true : 'n/a',
    })
  }, 60_000)
})

// A download that ends (or a copy another copy beat) aborts GETs whose connection is still opening. Bun's
// socket opened after the abort stayed open and kept the process alive: `dragonfly demo` on Bun printed its
// result and sometimes never exited.
describe.each(Object.entries(ABORT_COMMANDS))('piece GET on %s aborted while its connection opens', (runtime, command) => {
  it('closes the connection once it opens, and the process exits on its own', async () => {
    const { result, output, exited } = await runFixture(command, 20_000)
    expect(result, output).toEqual({ runtime, rejected: 5, leftOpen: 0 })
    expect(exited, `still running after 20 s:\n${output}`).toBe(true)
  }, 60_000)
})
