import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { expect, it } from 'vitest'

// CI keeps `npm run bench:throughput` working with a small file; the 1 GiB figures are measured by hand.
async function bench(args: string[]): Promise<string> {
  const root = resolve(import.meta.dirname, '..')
  const child = spawn(process.execPath, ['--import', 'jiti/register', 'bench/throughput.ts', '--size', '32', '--rounds', '1', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (out += d))
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)))
  expect({ code, out }).toMatchObject({ code: 0 })
  return out
}

it('bench:throughput runs end to end and prints the ratio to curl, the machine CPU per run and the peer peak RSS', async () => {
  const out = await bench([])
  const ratio = /throughput ratio get\/curl: ([\d.]+)x/.exec(out)
  expect(Number(ratio?.[1])).toBeGreaterThan(0)
  // The whole machine's busy CPU during the runs (Linux /proc/stat): a get starting Node costs well over one 10 ms tick.
  const cpu = /machine CPU per run \(all cores, \/proc\/stat\): curl \+ origin median ([\d.]+) s \| get \+ supernode median ([\d.]+) s/.exec(out)
  expect(Number(cpu?.[2])).toBeGreaterThan(0.05)
  const rss = /peer peak RSS: median (\d+) MiB/.exec(out)
  expect(Number(rss?.[1])).toBeGreaterThan(20)
}, 60_000)

it.each(['node', 'bun'])(
  'bench:throughput --via proxy --runtime %s: curl -x through a daemon on it',
  async (runtime) => {
    const out = await bench(['--via', 'proxy', '--runtime', runtime])
    expect(out).toMatch(new RegExp(`curl -x through a daemon on ${runtime} started before each round`))
    expect(Number(/throughput ratio proxy\/curl: ([\d.]+)x/.exec(out)?.[1])).toBeGreaterThan(0)
    const cpu = /curl \+ origin median ([\d.]+) s \| curl \+ daemon \+ supernode median ([\d.]+) s/.exec(out)
    // The daemon takes 32 MiB through the swarm and streams it: well over one 10 ms tick.
    expect(Number(cpu?.[2])).toBeGreaterThan(0.05)
    // The daemon's peak, not curl's (a few MiB).
    expect(Number(/peer peak RSS: median (\d+) MiB/.exec(out)?.[1])).toBeGreaterThan(20)
  },
  60_000,
)
