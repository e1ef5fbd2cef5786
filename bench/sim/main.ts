import { parseArgs } from 'node:util'
import { buildReport, formatReport } from './report.ts'
import { DEFAULT_SIM_OPTIONS, type SimOptions } from './scenario.ts'
import { simulate } from './simulate.ts'

const USAGE = `npm run bench:sim -- [--peers N] [--size MiB] [--seed N] [--churn F] [--late F]
  [--want N] [--supernode-gbps G] [--source-gbps G | --warm] [--json] [--progress]`

function parseOptions(argv: string[]): { options: SimOptions; json: boolean; progress: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      peers: { type: 'string' },
      size: { type: 'string' },
      seed: { type: 'string' },
      churn: { type: 'string' },
      late: { type: 'string' },
      want: { type: 'string' },
      'supernode-gbps': { type: 'string' },
      'source-gbps': { type: 'string' },
      warm: { type: 'boolean' },
      json: { type: 'boolean' },
      progress: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const num = (v: string | undefined, name: string, fallback: number): number => {
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`)
    return n
  }
  const d = DEFAULT_SIM_OPTIONS
  const options: SimOptions = {
    ...d,
    peers: Math.floor(num(values.peers, 'peers', d.peers)),
    sizeMiB: num(values.size, 'size', d.sizeMiB),
    seed: Math.floor(num(values.seed, 'seed', d.seed)),
    churn: num(values.churn, 'churn', d.churn),
    late: num(values.late, 'late', d.late),
    want: Math.floor(num(values.want, 'want', d.want)),
    supernodeGbps: num(values['supernode-gbps'], 'supernode-gbps', d.supernodeGbps),
    sourceGbps: values.warm ? null : num(values['source-gbps'], 'source-gbps', d.sourceGbps ?? 2),
  }
  if (options.peers < 1 || options.sizeMiB <= 0) throw new Error('--peers and --size must be positive')
  return { options, json: values.json ?? false, progress: values.progress ?? false }
}

function describe(o: SimOptions): string {
  const mix = o.mix.map((c) => `${Math.round(c.share * 100)}% ${c.upGbps}/${c.downGbps} Gbit/s`).join(' + ')
  const source = o.sourceGbps === null ? 'warm cache' : `cold, origin ${o.sourceGbps} Gbit/s`
  return `seed ${o.seed}; supernode ${o.supernodeGbps} Gbit/s, ${source}; ${mix}; want ${o.want}; churn ${o.churn}; late ${o.late}`
}

try {
  const { options, json, progress } = parseOptions(process.argv.slice(2))
  const report = buildReport(simulate(options, progress ? (line) => console.error(line) : undefined))
  console.log(json ? JSON.stringify({ options, ...report }, null, 2) : formatReport(report, describe(options)))
} catch (error) {
  console.error(`bench:sim failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
