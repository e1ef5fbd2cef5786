/**
 * `--mode process`: N peers on this host whose links are token buckets inside
 * each process, through a supernode, vs the same N clients straight from the
 * (equally limited) source, in one run.
 *
 *   npm run bench:swarm -- --mode process [--peers 8[,16,32]] [--size 6] [--rate 2MB] [--chart FILE.svg] [--json]
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { parseArgs } from 'node:util'
import { lineChart } from './chart.ts'
import { DEFAULT_SWARM_BENCH, runSwarmBench, type SwarmBenchResult } from './run.ts'

function format(r: SwarmBenchResult): string {
  const s = (x: number): string => `${x.toFixed(2)} s`
  const x = (v: number): string => `${v.toFixed(2)}x`
  const { p2p, direct, bound } = r
  const delivered = p2p.bytesFromPeers + p2p.bytesFromSupernode + p2p.bytesFromSource
  const rows: [string, string][] = [
    ['scenario', `N=${r.options.peers}, ${r.options.sizeMiB} MiB, every link ${r.options.rate}/s up and down (source, supernode, peers)`],
    ['lower bound', `${s(bound.seconds)} = max(F/u_s ${s(bound.seedUpload)}, F/d ${s(bound.download)}, N·F/(u_s+Σu_i) ${s(bound.swarmUpload)})`],
    [
      'P2P last peer',
      `${s(p2p.lastSeconds)} (${x(p2p.lastSeconds / bound.seconds)} bound; target <= 1.3x)  median ${s(p2p.medianSeconds)}; longest download inside the peer ${s(p2p.lastDownloadSeconds)} (${x(p2p.lastDownloadSeconds / bound.seconds)})`,
    ],
    ['P2P source egress', `${x(p2p.sourceEgress)} file (target <= 1.02x)`],
    [
      'P2P bytes from peers',
      `${((p2p.bytesFromPeers / Math.max(1, delivered)) * 100).toFixed(1)} % (supernode ${((p2p.bytesFromSupernode / Math.max(1, delivered)) * 100).toFixed(1)} %, source ${((p2p.bytesFromSource / Math.max(1, delivered)) * 100).toFixed(1)} %)`,
    ],
    ['direct last client', `${s(direct.lastSeconds)} (${x(direct.lastSeconds / bound.seconds)} bound); source egress ${x(direct.sourceEgress)} file`],
    ['P2P speed-up', `${x(direct.lastSeconds / p2p.lastSeconds)} (direct / P2P, last finisher)`],
  ]
  const failures = [...p2p.failures.map((f) => `P2P ${f}`), ...direct.failures.map((f) => `direct ${f}`)]
  if (failures.length) rows.push(['FAILED', failures.join('; ')])
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

function chart(results: SwarmBenchResult[]): string {
  const o = results[0]!.options
  return lineChart({
    title: 'Time until the last of N peers has the file',
    note: `${o.sizeMiB} MiB; source, supernode and every peer limited to ${o.rate}/s; npm run bench:swarm`,
    xLabel: 'peers (N)',
    yLabel: 'seconds',
    series: [
      { name: 'direct from source', color: '#d62728', points: results.map((r) => [r.options.peers, r.direct.lastSeconds]) },
      { name: 'dragonfly P2P', color: '#1f77b4', points: results.map((r) => [r.options.peers, r.p2p.lastSeconds]) },
      { name: 'lower bound', color: '#2ca02c', dashed: true, points: results.map((r) => [r.options.peers, r.bound.seconds]) },
    ],
  })
}

/** Runs the process mode with these arguments; resolves with the exit code. */
export async function processMode(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      mode: { type: 'string' },
      peers: { type: 'string' },
      size: { type: 'string' },
      rate: { type: 'string' },
      chart: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  const d = DEFAULT_SWARM_BENCH
  const counts = (values.peers ?? String(d.peers)).split(',').map((v) => Number(v))
  const sizeMiB = Number(values.size ?? d.sizeMiB)
  if (counts.some((n) => !Number.isInteger(n) || n < 1) || !(sizeMiB > 0))
    throw new Error('--peers takes positive integers (8 or 8,16,32), --size a positive number of MiB')
  const results: SwarmBenchResult[] = []
  for (const peers of counts) {
    const result = await runSwarmBench({ peers, sizeMiB, rate: values.rate ?? d.rate })
    results.push(result)
    console.log(values.json ? JSON.stringify(result) : `${format(result)}\n`)
  }
  if (values.chart) {
    await mkdir(dirname(values.chart), { recursive: true })
    await writeFile(values.chart, chart(results))
    console.log(`chart written to ${values.chart}`)
  }
  return results.some((r) => r.p2p.failures.length + r.direct.failures.length > 0) ? 1 : 0
}
