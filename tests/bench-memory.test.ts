import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { expect, it } from 'vitest'

// CI keeps `npm run bench:memory` working with a small file; the figure that matters (2 GiB) is measured by hand.
it('bench:memory runs end to end and reports both peak RSS figures', async () => {
  const root = resolve(import.meta.dirname, '..')
  const child = spawn(process.execPath, ['--import', 'jiti/register', 'bench/memory.ts', '--size', '32'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)))
  expect({ code, out }).toMatchObject({ code: 0 })
  const peer = /peer peak RSS\s+(\d+) MiB/.exec(out)
  expect(Number(peer?.[1])).toBeGreaterThan(20)
  expect(out).toMatch(/supernode peak RSS\s+\d+ MiB/)
}, 60_000)
