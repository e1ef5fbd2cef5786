import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fixtureCommands, runFixture } from '../helpers/runtime-fixture.ts'

// A piece server on Bun or Deno sends plain pieces from the store's file (storage-fs's `bodyAt`), not
// through memory core reads them into: Bun a file-backed Blob, Deno a byte stream of the range that the
// adapter's own server reads into its reused buffers (it would send a longer stream only up to the
// Content-Length). Each piece
// must come back byte for byte, mid-file and last, one after another on a kept-alive connection.
// Node reads them into memory. A piece whose file is gone gets E_IO and the process still exits 0.
// Runs the sources (no build needed).

const COMMANDS = fixtureCommands(join(import.meta.dirname, 'fixtures/piece-serve-check.ts'))

describe.each(Object.entries(COMMANDS))('piece serving on %s', (runtime, command) => {
  it('sends every piece exactly, from the file where the runtime can', async () => {
    const { result, output, exitCode } = await runFixture(command)
    expect(result, output).toEqual({ runtime, exact: true, fromFile: runtime !== 'node', gone: [500, 'E_IO'], stillServes: true })
    expect(exitCode, output).toBe(0)
  }, 60_000)
})
