import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { expect, it } from 'vitest'

// CI keeps `npm run bench:throughput` working with a small file; the 1 GiB figure is measured by hand.
it('bench:throughput runs end to end and prints the ratio to curl, the machine CPU per run and the peer peak RSS', async () => {
  const root = resolve(import.meta.dirname, '..')
  const child = spawn(process.execPath, ['--import', 'jiti/register', 'bench/throughput.ts', '--size', '32', '--rounds', '1'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)))
  expect({ code, out }).toMatchObject({ code: 0 })
  const ratio = /throughput ratio get\/curl: ([\d.]+)x/.exec(out)
  expect(Number(ratio?.[1])).toBeGreaterThan(0)
  // The whole machine's busy CPU during the runs (Linux /proc/stat): a get starting Node costs well over one 10 ms tick.
  const cpu = /machine CPU per run \(all cores, \/proc\/stat\): curl \+ origin median ([\d.]+) s \| get \+ supernode median ([\d.]+) s/.exec(out)
  expect(Number(cpu?.[2])).toBeGreaterThan(0.05)
  const rss = /peer peak RSS: median (\d+) MiB/.exec(out)
  expect(Number(rss?.[1])).toBeGreaterThan(20)
}, 60_000)
