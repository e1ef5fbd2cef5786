import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { expect, it } from 'vitest'

interface ProcessFigures {
  samples: number
  rssSlope: number
  heap: { downloads: number; bytes: number }[]
  heapSlope: number
}

// CI keeps `npm run bench:soak` working with a small run; the long soaks are measured by hand (bench/README.md).
it('bench:soak runs a daemon and a supernode under load through all three routes and reports their slopes', async () => {
  const root = resolve(import.meta.dirname, '..')
  const args = ['--import', 'jiti/register', 'bench/soak/main.ts', '--count', '900', '--files', '60', '--size', '64', '--json']
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d) => (out += d))
  child.stderr.on('data', (d) => (err += d))
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? 1)))
  expect({ code, err }).toMatchObject({ code: 0 })
  const r = JSON.parse(out) as {
    downloads: number
    errors: number
    wrongBytes: number
    uncached: number
    byRoute: Record<string, number>
    p99Ms: number
    daemon: ProcessFigures
    supernode: ProcessFigures
  }
  expect({ downloads: r.downloads, errors: r.errors, wrongBytes: r.wrongBytes }).toEqual({ downloads: 900, errors: 0, wrongBytes: 0 })
  expect(r.byRoute).toEqual({ api: 300, mirror: 300, proxy: 300 })
  expect(r.uncached).toBe(90)
  expect(r.p99Ms).toBeGreaterThan(0)
  for (const p of [r.daemon, r.supernode]) {
    expect(p.samples).toBeGreaterThan(2)
    expect(Number.isFinite(p.rssSlope)).toBe(true)
    expect(p.heap.map((h) => h.downloads)).toEqual([90, 900])
    expect(p.heap.every((h) => h.bytes > 1024 * 1024)).toBe(true)
    expect(Number.isFinite(p.heapSlope)).toBe(true)
  }
}, 90_000)
