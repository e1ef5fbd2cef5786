import { parseArgs } from 'node:util'
import { buildReport, formatReport } from './report.ts'
import { DEFAULT_SIM_OPTIONS, type SimOptions } from './scenario.ts'
import { simulate } from './simulate.ts'
import { FREE_COST_MODEL, type SupernodeCostModel } from './supernode-core.ts'

const USAGE = `npm run bench:sim -- [--protocol parents|pull] [--peers N] [--size MiB] [--piece-size MiB] [--seed N] [--churn F] [--late F]
  [--want N] [--supernode-gbps G] [--source-gbps G | --warm] [--link-mbit M] [--sharing per-end|max-min]
  [--supernode-cost off|request=µs,register=µs,result=µs,assignment=µs,rerun=µs,sync=µs,sync-piece=µs] [--rtt-ms MS]
  [--uncharged] [--json] [--progress]

  --protocol        parents (default): peers sync every 2 s and pick pieces from their parents;
                    pull: the first protocol, every piece assigned by a pull
  --supernode-cost  CPU the supernode's one core spends per request (keys not given keep their
                    defaults, fitted from bench:supernode); off = free
  --link-mbit       every host's link, each way, the supernode's included (bench:swarm's shape:
                    --link-mbit 20 --warm --rtt-ms 2); replaces the default mix of hosts
  --sharing         per-end (default): a transfer gets the lesser of its two ends' equal shares;
                    max-min: max-min fair over the whole network, as TCP flows come close to
                    (every change recomputes every rate: for tens of peers)
  --rtt-ms          network round trip of each request to the supernode (default 1)
  --uncharged       --supernode-cost off --rtt-ms 0: pulls take no time, as before charging`

const COST_KEYS = {
  request: 'requestUs',
  register: 'registerUs',
  result: 'resultUs',
  assignment: 'assignmentUs',
  rerun: 'rerunUs',
  sync: 'syncUs',
  'sync-piece': 'syncPieceUs',
} as const

function parseCost(spec: string | undefined, fallback: SupernodeCostModel): SupernodeCostModel {
  if (spec === undefined) return fallback
  if (spec === 'off') return FREE_COST_MODEL
  const model = { ...fallback }
  for (const part of spec.split(',')) {
    const [key = '', value = ''] = part.split('=')
    const field = COST_KEYS[key.trim() as keyof typeof COST_KEYS]
    const us = Number(value)
    if (!field || value.trim() === '' || !Number.isFinite(us) || us < 0) {
      throw new Error(`--supernode-cost: expected off or request=µs,register=µs,result=µs,assignment=µs,rerun=µs,sync=µs,sync-piece=µs, got ${part}`)
    }
    model[field] = us
  }
  return model
}

function parseOptions(argv: string[]): { options: SimOptions; json: boolean; progress: boolean } {
  const { values } = parseArgs({
    args: argv,
    options: {
      protocol: { type: 'string' },
      peers: { type: 'string' },
      size: { type: 'string' },
      'piece-size': { type: 'string' },
      seed: { type: 'string' },
      churn: { type: 'string' },
      late: { type: 'string' },
      want: { type: 'string' },
      'supernode-gbps': { type: 'string' },
      'source-gbps': { type: 'string' },
      warm: { type: 'boolean' },
      'supernode-cost': { type: 'string' },
      'rtt-ms': { type: 'string' },
      'link-mbit': { type: 'string' },
      sharing: { type: 'string' },
      uncharged: { type: 'boolean' },
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
  const protocol = values.protocol ?? d.protocol
  if (protocol !== 'parents' && protocol !== 'pull') throw new Error(`--protocol must be parents or pull, got ${protocol}`)
  const sharing = values.sharing ?? d.sharing
  if (sharing !== 'per-end' && sharing !== 'max-min') throw new Error(`--sharing must be per-end or max-min, got ${sharing}`)
  const options: SimOptions = {
    ...d,
    protocol,
    sharing,
    peers: Math.floor(num(values.peers, 'peers', d.peers)),
    sizeMiB: num(values.size, 'size', d.sizeMiB),
    pieceSizeMiB: values['piece-size'] === undefined ? null : num(values['piece-size'], 'piece-size', 1),
    seed: Math.floor(num(values.seed, 'seed', d.seed)),
    churn: num(values.churn, 'churn', d.churn),
    late: num(values.late, 'late', d.late),
    want: Math.floor(num(values.want, 'want', d.want)),
    supernodeGbps: num(values['supernode-gbps'], 'supernode-gbps', d.supernodeGbps),
    sourceGbps: values.warm ? null : num(values['source-gbps'], 'source-gbps', d.sourceGbps ?? 2),
    cost: values.uncharged ? FREE_COST_MODEL : parseCost(values['supernode-cost'], d.cost),
    rttMs: values.uncharged ? 0 : num(values['rtt-ms'], 'rtt-ms', d.rttMs),
  }
  if (values['link-mbit'] !== undefined) {
    const gbps = num(values['link-mbit'], 'link-mbit', 0) / 1000
    if (!(gbps > 0)) throw new Error('--link-mbit must be positive')
    options.mix = [{ share: 1, upGbps: gbps, downGbps: gbps }]
    options.supernodeGbps = gbps
  }
  if (values.uncharged && (values['supernode-cost'] !== undefined || values['rtt-ms'] !== undefined))
    throw new Error('--uncharged sets --supernode-cost and --rtt-ms')
  if (options.peers < 1 || options.sizeMiB <= 0 || options.pieceSizeMiB === 0) throw new Error('--peers, --size and --piece-size must be positive')
  return { options, json: values.json ?? false, progress: values.progress ?? false }
}

function describe(o: SimOptions): string {
  const mix = o.mix.map((c) => `${Math.round(c.share * 100)}% ${c.upGbps}/${c.downGbps} Gbit/s`).join(' + ')
  const source = o.sourceGbps === null ? 'warm cache' : `cold, origin ${o.sourceGbps} Gbit/s`
  const c = o.cost
  const charged =
    o.rttMs === 0 && Object.values(c).every((v) => v === 0)
      ? 'supernode uncharged'
      : `supernode core ${c.requestUs} µs/request + ${c.registerUs}/register + ${c.resultUs}/result + ${c.assignmentUs}/assignment + ${c.rerunUs}/rerun + ${c.syncUs}+${c.syncPieceUs}·pieces/sync, rtt ${o.rttMs} ms`
  return `${o.protocol} protocol; ${o.sharing} sharing; seed ${o.seed}; supernode ${o.supernodeGbps} Gbit/s, ${source}; ${mix}; want ${o.want}; churn ${o.churn}; late ${o.late}; ${charged}`
}

try {
  const { options, json, progress } = parseOptions(process.argv.slice(2))
  const report = buildReport(simulate(options, progress ? (line) => console.error(line) : undefined))
  console.log(json ? JSON.stringify({ options, ...report }, null, 2) : formatReport(report, describe(options)))
} catch (error) {
  console.error(`bench:sim failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
