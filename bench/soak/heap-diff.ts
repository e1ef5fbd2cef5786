/**
 * What grew between two heap snapshots of one process, and what holds it.
 *
 *   node --import jiti/register bench/soak/heap-diff.ts before.heapsnapshot after.heapsnapshot [--top 25] [--retainers NAME] [--paths 3]
 *
 * Prints objects counted by constructor (closures by function name) in both
 * snapshots, largest growth first; with `--retainers NAME`, the shortest path
 * from the GC roots to a few of the newest objects of that class in the
 * second snapshot (the chain that keeps them alive).
 */
import { parseArgs } from 'node:util'
import { classOf, type HeapSnapshot, readHeapSnapshot, summarize } from './heap-snapshot.ts'

interface Retainers {
  /** Each node's parent edge on a shortest path from the root (-1 = not reached). */
  parentEdge: Int32Array
  /** The node each edge leaves from. */
  from: Uint32Array
}

/** Breadth-first from the snapshot's root over strong edges. */
function shortestRetainers(s: HeapSnapshot): Retainers {
  const nf = s.nodeFields.length
  const ef = s.edgeFields.length
  const count = s.nodes.length / nf
  const edgeCountAt = s.nodeFields.indexOf('edge_count')
  const toAt = s.edgeFields.indexOf('to_node')
  const typeAt = s.edgeFields.indexOf('type')
  const weak = s.edgeTypes.indexOf('weak')
  const firstEdge = new Uint32Array(count + 1)
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n]! + s.nodes[n * nf + edgeCountAt]!
  const parentEdge = new Int32Array(count).fill(-1)
  const seen = new Uint8Array(count)
  const queue = new Uint32Array(count)
  let head = 0
  let tail = 0
  queue[tail++] = 0
  seen[0] = 1
  while (head < tail) {
    const n = queue[head++]!
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e++) {
      if (s.edges[e * ef + typeAt] === weak) continue
      const to = s.edges[e * ef + toAt]! / nf
      if (seen[to]) continue
      seen[to] = 1
      parentEdge[to] = e
      queue[tail++] = to
    }
  }
  const from = new Uint32Array(firstEdge[count]!)
  for (let n = 0; n < count; n++) from.fill(n, firstEdge[n]!, firstEdge[n + 1]!)
  return { parentEdge, from }
}

function retainerChain(s: HeapSnapshot, { parentEdge, from }: Retainers, node: number): string {
  const ef = s.edgeFields.length
  const typeAt = s.edgeFields.indexOf('type')
  const nameAt = s.edgeFields.indexOf('name_or_index')
  const steps: string[] = []
  for (let n = node, guard = 0; parentEdge[n]! >= 0 && guard < 40; guard++) {
    const e = parentEdge[n]!
    const type = s.edgeTypes[s.edges[e * ef + typeAt]!]
    const raw = s.edges[e * ef + nameAt]!
    const name = type === 'element' || type === 'hidden' ? `[${raw}]` : (s.strings[raw] ?? String(raw))
    steps.push(`${classOf(s, n)} ← .${name} (${type}) of`)
    n = from[e]!
    if (n === 0) break
  }
  return steps.join('\n      ')
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string' }, retainers: { type: 'string' }, paths: { type: 'string' } },
})
if (positionals.length !== 2) {
  console.error('usage: heap-diff.ts before.heapsnapshot after.heapsnapshot [--top 25] [--retainers NAME] [--paths 3]')
  process.exit(2)
}
const [a, b] = await Promise.all(positionals.map((p) => readHeapSnapshot(p)))
const [sa, sb] = [summarize(a!), summarize(b!)]
const MiB = 2 ** 20
console.log(`live heap ${(sa.bytes / MiB).toFixed(1)} MiB (${sa.objects} objects) → ${(sb.bytes / MiB).toFixed(1)} MiB (${sb.objects} objects)`)
const rows = [...new Set([...sa.byClass.keys(), ...sb.byClass.keys()])].map((name) => {
  const x = sa.byClass.get(name) ?? { count: 0, bytes: 0 }
  const y = sb.byClass.get(name) ?? { count: 0, bytes: 0 }
  return { name, count: y.count - x.count, bytes: y.bytes - x.bytes, before: x.count, after: y.count }
})
rows.sort((p, q) => q.bytes - p.bytes)
console.log('\n   +bytes     +count     before      after  class')
for (const r of rows.slice(0, Number(values.top ?? 25))) {
  console.log(`${String(r.bytes).padStart(9)} ${String(r.count).padStart(10)} ${String(r.before).padStart(10)} ${String(r.after).padStart(10)}  ${r.name}`)
}
if (values.retainers) {
  const retainers = shortestRetainers(b!)
  const nf = b!.nodeFields.length
  const matches: number[] = []
  for (let n = b!.nodes.length / nf - 1; n >= 0 && matches.length < Number(values.paths ?? 3); n--) {
    if (classOf(b!, n) === values.retainers && retainers.parentEdge[n]! >= 0) matches.push(n)
  }
  console.log(`\nshortest retainer paths of the newest ${values.retainers}:`)
  for (const n of matches) console.log(`  ${retainerChain(b!, retainers, n)} (root)\n`)
}
