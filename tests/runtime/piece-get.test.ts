import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixtureCommands, runFixture } from '../helpers/runtime-fixture.ts'

// Bun's and Deno's adapters read piece bodies over their own TCP clients (Bun.connect, Deno.connect)
// straight into the receive buffer. Whatever the answer, a peer keeps only bytes that match the digest:
// a flipped byte is a digest failure, a body cut short a failed fetch, a chunked answer is read through
// fetch, and a kept-alive connection serves the next piece. Runs the sources (no build needed).

const { bun, deno } = fixtureCommands(join(import.meta.dirname, 'fixtures/piece-get-check.ts'))
const COMMANDS = { bun, deno }

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
