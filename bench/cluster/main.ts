/**
 * The cluster at scale: two supernodes on one redis-server hold N tasks
 * (`--real` of them preheated for real, the rest synthetic records), then
 * idle; measured: each supernode's CPU and RSS, Redis commands/s and memory,
 * a get's time through the owner and through the other supernode, and the
 * failover after kill -9 of the owner of a running download.
 *
 *   npm run bench:cluster -- [--tasks 1000,10000,100000] [--real 1000] [--idle 10] [--json]
 */
import { parseArgs } from 'node:util'
import { type ClusterBenchResult, DEFAULT_CLUSTER_BENCH, runClusterBench } from './run.ts'

function format(r: ClusterBenchResult): string {
  const n = (x: number, digits = 0): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  const MiB = 2 ** 20
  const { tasks, real, idleSeconds } = r.options
  const rows: [string, string][] = [
    [
      'tasks in the cluster',
      `${n(tasks)} (${n(Math.min(real, tasks))} preheated in ${n(r.preheatSeconds, 1)} s, ${n(Math.max(0, tasks - real))} synthetic records)`,
    ],
    ['held per supernode', r.held.map((h, i) => `${'AB'[i]}: ${n(h.tasks)} (${n(h.active)} with periodic work)`).join(', ')],
    ...r.idle.map((s, i): [string, string] => [
      `idle supernode ${'AB'[i]}`,
      `${n(s.cores * 100, 2)} % of a core, RSS ${n(s.rssBytes / MiB)} MiB (over ${idleSeconds} s)`,
    ]),
    [
      'idle Redis',
      `${n(r.redis.commandsPerSecond, 1)} commands/s, ${n(r.redis.cores * 100, 2)} % of a core, used_memory ${n(r.redis.usedMemoryBytes / MiB, 1)} MiB, ${n(r.redis.keys)} keys`,
    ],
    ['get, whole process', `through the owner ${n(r.getMs.owner)} ms, through the other supernode ${n(r.getMs.nonOwner)} ms (median of 3)`],
    ['failover', `${n(r.failoverMs)} ms from kill -9 of the owner to the follower holding the lease`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n')
}

try {
  const { values } = parseArgs({ options: { tasks: { type: 'string' }, real: { type: 'string' }, idle: { type: 'string' }, json: { type: 'boolean' } } })
  const positive = (text: string, name: string): number => {
    const x = Number(text)
    if (!Number.isInteger(x) || x <= 0) throw new Error(`--${name} takes positive whole numbers, got ${text}`)
    return x
  }
  const d = DEFAULT_CLUSTER_BENCH
  const sizes = (values.tasks ?? String(d.tasks)).split(',').map((t) => positive(t, 'tasks'))
  const real = values.real === undefined ? d.real : positive(values.real, 'real')
  const idleSeconds = values.idle === undefined ? d.idleSeconds : positive(values.idle, 'idle')
  for (const tasks of sizes) {
    const result = await runClusterBench({ tasks, real, idleSeconds, log: (line) => console.error(line) })
    console.log(values.json ? JSON.stringify(result) : `${format(result)}\n`)
  }
} catch (error) {
  console.error(`bench:cluster failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
