import { execFileSync } from 'node:child_process'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../helpers/cli.ts'
import { fixtureCommands, runFixture } from '../helpers/runtime-fixture.ts'

// storage-fs's O_DIRECT writes of received pieces on each runtime. Deno's node:fs writes on the event loop (a Deno
// get spent 0.72 s per GiB in pwrite64 on its main thread, beside the socket reads), so there they go to a write
// thread of their own; the fixture says how many did. A full disk must still be E_NO_SPACE, memory the kernel
// refuses must still land, and the thread must not keep the process alive.
const isRoot = process.getuid?.() === 0
const mounts: string[] = []
afterAll(() => {
  for (const m of mounts) execFileSync('umount', ['-l', m])
})

describe.each(Object.entries(fixtureCommands(join(import.meta.dirname, 'fixtures/direct-writes-check.ts'))))('direct writes on %s', (runtime, command) => {
  it('writes pieces side by side right, falls back where refused, reports a full disk, and exits', async () => {
    const dir = await tempDir()
    let small = '-'
    if (isRoot) {
      small = join(dir, 'small')
      await mkdir(small)
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', small])
      mounts.push(small)
    }
    const { result, output, exited } = await runFixture([...command, join(dir, 'store'), small], 30_000)
    expect(result, output).toEqual({
      runtime,
      direct: true,
      firstBack: true,
      piecesBack: true,
      tailBack: true,
      onThread: runtime === 'deno',
      threadKept: runtime === 'deno' ? true : 'n/a',
      refusedBack: true,
      fullDisk: isRoot ? 'E_NO_SPACE' : 'not tried',
    })
    expect(exited, `still running after 30 s:\n${output}`).toBe(true)
  }, 60_000)
})
