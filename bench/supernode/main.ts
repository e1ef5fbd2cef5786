/**
 * Virtual peers (one process, real HTTP with keep-alive) register and pull
 * against one real supernode process.
 *
 *   npm run bench:supernode -- [--peers 1000] [--size 16] [--want 8] [--slots N] [--json]
 *   npm run bench:supernode -- --fit [--repeat 3]   # the supernode's CPU per request, fitted over FIT_RUNS (bench:sim's cost model)
 *   npm run bench:supernode -- --protocol-cost [--peers 1000] [--syncs 20]   # CPU per register and per sync (the parents protocol)
 */
import { parseArgs } from 'node:util'
import { fitSupernodeCost, formatFit } from './cost-fit.ts'
import { formatProtocolCost, measureProtocolCost } from './protocol-cost.ts'
import { DEFAULT_SUPERNODE_BENCH, runSupernodeBench, type SupernodeBenchResult } from './run.ts'

function format(r: SupernodeBenchResult): string {
  const MiB = 2 ** 20
  const n = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const lat = (k: keyof SupernodeBenchResult['requests']): string => {
    const q = r.requests[k]
    return `${n(q.count)} (p50 ${n(q.p50, 1)} ms, p99 ${n(q.p99, 1)} ms)`
  }
  const snCores = r.supernode.cpuSeconds / r.wallSeconds
  const rows: [string, string][] = [
    ['scenario', `${r.options.peers} virtual peers, ${r.options.sizeMiB} MiB = ${r.pieceCount} pieces, want ${r.options.want}; no piece bytes move`],
    [
      'peers completed',
      `${r.outcomes.filter((o) => o.pieces === o.pieceCount).length} / ${r.options.peers}${r.failures.length ? `, ${r.failures.length} failed` : ''}`,
    ],
    ['requests', `${n(r.requestCount)} in ${n(r.wallSeconds, 2)} s = ${n(r.requestCount / r.wallSeconds)} req/s`],
    ['  register', lat('register')],
    ['  pull with work', lat('work')],
    ['  pull, nothing', `${lat('empty')}; includes long-poll waits`],
    ['  last report', lat('report')],
    ['  leave', lat('leave')],
    [
      'assignments',
      `${n(r.assignments)} (${n((r.fromPeers / Math.max(1, r.assignments)) * 100, 1)} % from peers) = ${n(r.assignments / r.wallSeconds)} pieces/s`,
    ],
    [
      'supernode CPU',
      `${n(r.supernode.cpuSeconds, 2)} s = ${n(snCores, 2)} cores; RSS ${n(r.supernode.rssBytes / MiB)} MiB, peak ${n(r.supernode.peakRssBytes / MiB)} MiB`,
    ],
    ['pieces / supernode CPU-s', `${n(r.assignments / r.supernode.cpuSeconds)} (whole HTTP path: parse, schedule, answer)`],
    [
      'swarm.pull',
      `${n(r.schedule.pulls)} calls, mean ${n((r.schedule.seconds / r.schedule.pulls) * 1e6, 1)} µs = ${n((r.schedule.seconds / r.supernode.cpuSeconds) * 100, 1)} % of supernode CPU; ${n(r.assignments / r.schedule.seconds)} pieces per scheduler CPU-s`,
    ],
    ['client CPU', `${n(r.clientCpuSeconds, 2)} s in this process (the virtual peers share the machine)`],
    ['source egress', `${n(r.sourceEgress, 2)}x file`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

try {
  const { values } = parseArgs({
    options: {
      peers: { type: 'string' },
      size: { type: 'string' },
      want: { type: 'string' },
      json: { type: 'boolean' },
      fit: { type: 'boolean' },
      slots: { type: 'string' },
      repeat: { type: 'string' },
      'protocol-cost': { type: 'boolean' },
      syncs: { type: 'string' },
    },
  })
  const num = (v: string | undefined, name: string, fallback: number): number => {
    const x = v === undefined ? fallback : Number(v)
    if (!Number.isFinite(x) || x <= 0) throw new Error(`--${name} must be a positive number, got ${v}`)
    return x
  }
  if (values['protocol-cost']) {
    const cost = await measureProtocolCost({
      peers: Math.floor(num(values.peers, 'peers', 1000)),
      sizeMiB: num(values.size, 'size', 64),
      syncs: Math.floor(num(values.syncs, 'syncs', 20)),
    })
    console.log(values.json ? JSON.stringify(cost, null, 2) : formatProtocolCost(cost))
  } else if (values.fit) {
    const fit = await fitSupernodeCost(undefined, Math.floor(num(values.repeat, 'repeat', 1)), (line) => console.error(line))
    console.log(values.json ? JSON.stringify(fit, null, 2) : formatFit(fit))
  } else {
    const d = DEFAULT_SUPERNODE_BENCH
    const result = await runSupernodeBench({
      peers: Math.floor(num(values.peers, 'peers', d.peers)),
      sizeMiB: num(values.size, 'size', d.sizeMiB),
      want: Math.floor(num(values.want, 'want', d.want)),
      ...(values.slots === undefined ? {} : { slots: Math.floor(num(values.slots, 'slots', 6)) }),
    })
    console.log(values.json ? JSON.stringify({ ...result, outcomes: undefined }, null, 2) : format(result))
    for (const f of result.failures.slice(0, 5)) console.error(`peer failed: ${f}`)
    process.exitCode = result.failures.length > 0 ? 1 : 0
  }
} catch (error) {
  console.error(`bench:supernode failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
