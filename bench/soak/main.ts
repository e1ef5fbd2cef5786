/**
 * A daemon and a supernode under a steady stream of downloads: errors, wrong
 * bytes, latency, and whether their memory and descriptors stay flat.
 *
 *   npm run bench:soak -- [--count 3000 | --seconds S] [--concurrency 32] [--files 300] [--size 256]
 *                         [--uncached 0.1] [--routes api,mirror,proxy] [--no-heap] [--idle S]
 *                         [--at 3000,20000] [--keep-snapshots DIR] [--json]
 *
 * `--at` adds each process's RSS when those many downloads had finished. DRAGONFLY_BIN runs another build.
 */
import { parseArgs } from 'node:util'
import { ROUTES, type Route } from './load.ts'
import { DEFAULT_SOAK, type ProcessReport, runSoak, type SoakResult } from './run.ts'

const MiB = 2 ** 20

function formatProcess(name: string, p: ProcessReport, marks: number[]): [string, string][] {
  const mib = (b: number): string => `${(b / MiB).toFixed(1)} MiB`
  const first = p.samples[0]
  const last = p.samples.at(-1)
  const half = p.samples.find((s) => s.downloads >= (last?.downloads ?? 0) / 2)
  const fds = p.samples.map((s) => s.openFds)
  const rows: [string, string][] = [
    [
      `${name} RSS`,
      `${first ? mib(first.rssBytes) : '?'} → ${half ? mib(half.rssBytes) : '?'} (half) → ${last ? mib(last.rssBytes) : '?'}` +
        `${p.rssAfterIdle ? ` → ${mib(p.rssAfterIdle)} idle` : ''}; max ${mib(Math.max(...p.samples.map((s) => s.rssBytes)))}`,
    ],
    ...(marks.length > 0 ? [[`${name} RSS at`, rssAt(p, marks)] as [string, string]] : []),
    [
      `${name} RSS slope`,
      `${p.rssSlope.toFixed(0)} bytes/download (linear fit, second half, ${p.samples.filter((s) => s === half || (half && s.downloads >= half.downloads)).length} samples)`,
    ],
  ]
  if (p.heap.length > 0) {
    rows.push([`${name} heap`, `${p.heap.map((h) => `${mib(h.bytes)} @ ${h.downloads}`).join(' → ')} (live, after a full GC)`])
    if (p.heapSlope !== undefined) rows.push([`${name} heap slope`, `${p.heapSlope.toFixed(0)} bytes/download (10 % → end)`])
  }
  rows.push([`${name} open fds`, `${fds[0]} → ${fds.at(-1)}; max ${Math.max(...fds)}`])
  return rows
}

/** RSS at the first sample taken once `mark` downloads had finished, for each mark. */
function rssAt(p: ProcessReport, marks: number[]): string {
  return marks
    .map((mark) => {
      const s = p.samples.find((x) => x.downloads >= mark)
      return `${mark}: ${s ? `${(s.rssBytes / MiB).toFixed(0)} MiB` : '-'}`
    })
    .join(', ')
}

function format(r: SoakResult, marks: number[]): string {
  const o = r.options
  const rows: [string, string][] = [
    [
      'scenario',
      `${o.count ? `${o.count} downloads` : `${o.seconds} s`}, ${o.concurrency} at a time, via ${o.routes.join('/')}; ${o.files} cached contents of ${o.sizeKiB} KiB, ${(o.uncached * 100).toFixed(0)} % fresh`,
    ],
    [
      'downloads',
      `${r.downloads} in ${r.wallSeconds.toFixed(1)} s (${(r.downloads / r.wallSeconds).toFixed(0)}/s); ${r.uncached} fresh; ${Object.entries(r.byRoute)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    ],
    ['errors', String(r.errors)],
    ['wrong bytes', String(r.wrongBytes)],
    ['latency', `p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`],
    ...formatProcess('daemon', r.daemon, marks),
    ...formatProcess('supernode', r.supernode, marks),
    ['origin', `${r.origin.requests} requests, ${(r.origin.bytes / MiB).toFixed(1)} MiB`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

try {
  const { values } = parseArgs({
    options: {
      count: { type: 'string' },
      seconds: { type: 'string' },
      concurrency: { type: 'string' },
      files: { type: 'string' },
      size: { type: 'string' },
      uncached: { type: 'string' },
      routes: { type: 'string' },
      'no-heap': { type: 'boolean' },
      idle: { type: 'string' },
      'keep-snapshots': { type: 'string' },
      at: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  const num = (v: string | undefined, name: string, fallback: number, min = 1): number => {
    const x = v === undefined ? fallback : Number(v)
    if (!Number.isFinite(x) || x < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`)
    return x
  }
  const d = DEFAULT_SOAK
  const marks = values.at?.split(',').map((m) => num(m, 'at', 0)) ?? []
  const routes = (values.routes?.split(',') ?? d.routes) as Route[]
  for (const r of routes) if (!ROUTES.includes(r)) throw new Error(`--routes: ${r} is not one of ${ROUTES.join(', ')}`)
  const uncached = num(values.uncached, 'uncached', d.uncached, 0)
  if (uncached > 1) throw new Error('--uncached is a share, 0..1')
  const result = await runSoak({
    ...(values.seconds ? { seconds: num(values.seconds, 'seconds', 0) } : { count: Math.floor(num(values.count, 'count', d.count!)) }),
    concurrency: Math.floor(num(values.concurrency, 'concurrency', d.concurrency)),
    files: Math.floor(num(values.files, 'files', d.files)),
    sizeKiB: num(values.size, 'size', d.sizeKiB),
    uncached,
    routes,
    heap: values['no-heap'] ? [] : d.heap,
    idleSeconds: num(values.idle, 'idle', d.idleSeconds, 0),
    ...(values['keep-snapshots'] ? { keepSnapshots: values['keep-snapshots'] } : {}),
  })
  if (values.json) {
    const strip = (p: ProcessReport) => ({ ...p, samples: p.samples.length })
    console.log(JSON.stringify({ ...result, daemon: strip(result.daemon), supernode: strip(result.supernode) }, null, 2))
  } else console.log(format(result, marks))
  for (const e of result.firstErrors) console.error(`error: ${e}`)
  process.exitCode = result.errors > 0 || result.wrongBytes > 0 ? 1 : 0
} catch (error) {
  console.error(`bench:soak failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
