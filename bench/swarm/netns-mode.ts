import { readFileSync, writeFileSync } from 'node:fs'
/**
 * `--mode netns` (the default): host 0 (origin + supernode / tracker + seeder)
 * and N peer hosts, each in its own network namespace on one bridge, every
 * link shaped by the kernel both ways; dragonfly, aria2 (BitTorrent) and
 * curl move the same file to the same hosts, one after the other.
 *
 *   npm run bench:swarm -- [--peers 8[,16,32]] [--size 16] [--rate 20mbit] [--queue 100ms|10ms] [--cc cubic|bbr]
 *                          [--dragonfly-config FILE]
 *                          [--systems dragonfly,dragonfly-daemon,aria2,curl] [--chart FILE.svg] [--json] [--timeline]
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { lineChart } from './chart.ts'
import { netnsUnavailable } from './netns.ts'
import { DEFAULT_NETNS_BENCH, runNetnsBench, SYSTEMS } from './netns-run.ts'
import { formatNetnsReport, type NetnsBenchResult } from './report.ts'
import type { SystemName } from './systems/system.ts'
import { formatTimeline } from './timeline.ts'

const COLORS: Record<SystemName, string> = { dragonfly: '#1f77b4', 'dragonfly-daemon': '#2ca02c', aria2: '#ff7f0e', curl: '#d62728' }

/** Runs the namespace mode with these arguments; resolves with the exit code (0 with a `skipped` line where namespaces cannot be made). */
export async function netnsMode(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: 'string' },
      peers: { type: 'string' },
      size: { type: 'string' },
      rate: { type: 'string' },
      queue: { type: 'string' },
      cc: { type: 'string' },
      'dragonfly-config': { type: 'string' },
      systems: { type: 'string' },
      chart: { type: 'string' },
      json: { type: 'boolean' },
      timeline: { type: 'boolean' },
      'no-priority': { type: 'boolean' },
    },
  })
  const d = DEFAULT_NETNS_BENCH
  const counts = (values.peers ?? String(d.peers)).split(',').map((v) => Number(v))
  const sizeMiB = Number(values.size ?? d.sizeMiB)
  const systems = (values.systems?.split(',') ?? d.systems) as SystemName[]
  if (counts.some((n) => !Number.isInteger(n) || n < 1) || !(sizeMiB > 0))
    throw new Error('--peers takes positive integers (8 or 8,16,32), --size a positive number of MiB')
  const unknown = systems.filter((s) => !(s in SYSTEMS))
  if (unknown.length || !systems.length) throw new Error(`--systems takes a list of ${Object.keys(SYSTEMS).join(', ')}; got ${values.systems}`)
  const unavailable = netnsUnavailable()
  if (unavailable) {
    console.log(`bench:swarm skipped: ${unavailable} (--mode process runs without them)`)
    return 0
  }
  if (!values['no-priority']) raisePriority()
  const results: NetnsBenchResult[] = []
  for (const peers of counts) {
    const result = await runNetnsBench({
      peers,
      sizeMiB,
      rate: values.rate ?? d.rate,
      queue: values.queue ?? d.queue,
      cc: values.cc ?? d.cc,
      systems,
      dragonflyConfig: values['dragonfly-config'],
      timeline: values.timeline === true,
    })
    results.push(result)
    console.log(values.json ? JSON.stringify(result) : `${formatNetnsReport(result)}\n`)
    if (values.timeline && !values.json) {
      for (const s of result.systems)
        if (s.timeline) console.log(`${s.system}, links per second:\n${formatTimeline(s.timeline, result.rateBitsPerSecond / 8)}\n`)
    }
  }
  if (values.chart) {
    await mkdir(dirname(values.chart), { recursive: true })
    await writeFile(values.chart, chart(results, systems))
    console.log(`chart written to ${values.chart}`)
  }
  return results.some((r) => r.systems.some((s) => s.failures.length > 0)) ? 1 : 0
}

/**
 * Every system under test runs in this process's session, so it shares one
 * scheduler autogroup (Linux's sched_autogroup); that group gets nice -10 here,
 * so on a machine shared with other work (builds, test runs in other sessions)
 * the systems get the CPU they ask for, all three alike. Without autogroups
 * (or root) nothing changes; `--no-priority` leaves it as it is.
 */
function raisePriority(): void {
  try {
    if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() !== '1') return
    writeFileSync('/proc/self/autogroup', '-10')
  } catch {}
}

function chart(results: NetnsBenchResult[], systems: SystemName[]): string {
  const o = results[0]!.options
  return lineChart({
    title: 'Time until the last of N hosts has the file (kernel-shaped links)',
    note: `${o.sizeMiB} MiB; every link ${o.rate} each way, queue ${o.queue}; npm run bench:swarm`,
    xLabel: 'peers (N)',
    yLabel: 'seconds',
    series: [
      ...systems.map((name) => ({
        name,
        color: COLORS[name],
        points: results.map((r): [number, number] => [r.options.peers, r.systems.find((s) => s.system === name)!.lastSeconds]),
      })),
      { name: 'lower bound', color: '#2ca02c', dashed: true, points: results.map((r): [number, number] => [r.options.peers, r.bound.seconds]) },
    ],
  })
}
