/**
 * Does a supernode keep anything of the peers that came and went? Rounds of
 * virtual peers (the real peer API over HTTP, no piece bytes) register, fetch
 * every piece of a preheated file and leave; the supernode's live heap (a
 * snapshot, after a full GC) and RSS are read after the first reading's
 * round, half-way and after the last.
 *
 * `--protocol pull` (bench/supernode's peers): pull every piece with long-polls, report, leave; `--rounds` rounds.
 * `--protocol sync` (the parents protocol, ./sync-peer.ts): sync with holdings and received bytes (long-polls when
 * dry), heartbeat syncs once complete, two piece-map requests, leave; rounds until `--syncs` syncs.
 *
 *   node --import jiti/register bench/soak/supernode-churn.ts [--protocol pull] [--rounds 10] [--peers 200] [--size 16] [--want 8]
 *   node --import jiti/register bench/soak/supernode-churn.ts --protocol sync --syncs 1000000 [--at 10000] [--heartbeats 5]
 *        [--peers 200] [--size 16] [--seconds S] [--keep-snapshots DIR] [--no-heap]
 *
 * `--at a,b,…`: the first reading once `a` requests are done (default: after round 1); the RSS at each mark.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Bitset } from '../../core/protocol/bitset.ts'
import { procUsage } from '../lib/proc-stats.ts'
import { startSupernode } from '../lib/processes.ts'
import { preheat } from '../supernode/run.ts'
import { runVirtualPeer, type Timing } from '../supernode/virtual-peer.ts'
import { classGrowth } from './class-growth.ts'
import { startContentOrigin } from './content-origin.ts'
import { heapSnapshotFlags, measureHeap } from './heap-probe.ts'
import type { HeapSummary } from './heap-snapshot.ts'
import { runSyncPeer, type SyncCounts } from './sync-peer.ts'

const MiB = 2 ** 20

const { values } = parseArgs({
  options: {
    protocol: { type: 'string' },
    rounds: { type: 'string' },
    syncs: { type: 'string' },
    at: { type: 'string' },
    heartbeats: { type: 'string' },
    seconds: { type: 'string' },
    peers: { type: 'string' },
    size: { type: 'string' },
    want: { type: 'string' },
    'keep-snapshots': { type: 'string' },
    'no-heap': { type: 'boolean' },
  },
})
const protocol = values.protocol ?? 'pull'
const rounds = Number(values.rounds ?? 10)
const syncTarget = Number(values.syncs ?? 100_000)
const heartbeats = Number(values.heartbeats ?? 5)
const seconds = Number(values.seconds ?? Infinity)
const peers = Number(values.peers ?? 200)
const sizeMiB = Number(values.size ?? 16)
const want = Number(values.want ?? 8)
if (![rounds, syncTarget, seconds, peers, sizeMiB, want].every((x) => x > 0) || heartbeats < 0 || rounds < 2 || !['pull', 'sync'].includes(protocol)) {
  console.error('--protocol is pull or sync; --rounds (>= 2), --syncs, --seconds, --peers, --size and --want must be positive numbers')
  process.exit(2)
}
const sync = protocol === 'sync'

const dir = await mkdtemp(join(tmpdir(), 'df-soak-churn-'))
const snapshots = values['keep-snapshots'] ?? join(dir, 'heap')
await mkdir(snapshots, { recursive: true })
const origin = await startContentOrigin(sizeMiB * MiB)
const sn = await startSupernode(join(dir, 'sn'), [], heapSnapshotFlags(snapshots))
const pid = sn.child.pid!
try {
  const url = origin.fileUrl(0)
  await preheat(sn.url, url)
  const timings: Timing[] = []
  const counts: SyncCounts = { registers: 0, syncs: 0, pieceMaps: 0, leaves: 0 }
  const holdings = new Map<string, Bitset>()
  /** The requests the readings are placed by: pulls and the rest (pull), syncs (sync). */
  const requests = (): number => (sync ? counts.syncs : timings.length)
  const rows: { round: number; requests: number; heapMiB: number; rssMiB: number; summary: HeapSummary }[] = []
  // The first reading once this many requests are done (default: after round 1), one half-way, one at the end.
  const marks = (values.at ?? '1').split(',').map(Number)
  const firstAt = marks[0]!
  /** RSS after each round (no snapshot before the first reading), for the `--at` marks. */
  const rss: { requests: number; rssMiB: number }[] = []
  const done = (round: number): boolean => (sync ? counts.syncs >= syncTarget : round >= rounds) || performance.now() - started > seconds * 1000
  const halfway = (round: number): boolean => (sync ? counts.syncs >= syncTarget / 2 : round >= Math.ceil(rounds / 2))
  const started = performance.now()
  let failures = 0
  for (let round = 1; ; round++) {
    const run = (i: number): Promise<unknown> => {
      const index = round * peers + i
      return sync
        ? runSyncPeer({ supernode: sn.url, url, index, holdings, heartbeats, counts })
        : runVirtualPeer({ supernode: sn.url, url, index, want, timings })
    }
    const settled = await Promise.allSettled(Array.from({ length: peers }, (_, i) => run(i)))
    for (const s of settled)
      if (s.status === 'rejected' && failures++ < 5) console.error(`peer failed: ${s.reason}${s.reason?.cause ? ` (${s.reason.cause})` : ''}`)
    const last = done(round)
    rss.push({ requests: requests(), rssMiB: (procUsage(pid)?.rssBytes ?? 0) / MiB })
    if ((rows.length === 0 && requests() >= firstAt) || (rows.length === 1 && halfway(round)) || last) {
      const rssMiB = (procUsage(pid)?.rssBytes ?? 0) / MiB
      // --no-heap: RSS only, untouched by a snapshot's own memory.
      const heap = values['no-heap'] ? { bytes: 0, objects: 0, byClass: new Map() } : await measureHeap(pid, snapshots, values['keep-snapshots'] !== undefined)
      rows.push({ round, requests: requests(), heapMiB: heap.bytes / MiB, rssMiB, summary: heap })
    }
    if (last) break
  }
  const wall = (performance.now() - started) / 1000
  for (const r of rows) {
    console.log(
      `after round ${String(r.round).padStart(4)}: ${r.round * peers} peers, ${r.requests} ${sync ? 'syncs' : 'requests'}; RSS ${r.rssMiB.toFixed(0)} MiB (before the snapshot), live heap ${r.heapMiB.toFixed(2)} MiB`,
    )
  }
  const rssAt = marks.map((m) => `${m}: ${rss.find((r) => r.requests >= m)?.rssMiB.toFixed(0) ?? '-'} MiB`)
  console.log(`RSS at ${rssAt.join(', ')}, end: ${rss.at(-1)?.rssMiB.toFixed(0)} MiB (after the round that reached each; later ones after a snapshot)`)
  if (sync) {
    const all = counts.registers + counts.syncs + counts.pieceMaps + counts.leaves
    console.log(
      `${counts.syncs} syncs, ${counts.pieceMaps} piece maps, ${counts.registers} registers, ${counts.leaves} leaves in ${wall.toFixed(0)} s (${(all / wall).toFixed(0)} requests/s)`,
    )
  }
  const [first, last] = [rows[0]!, rows.at(-1)!]
  const perPeer = ((last.heapMiB - first.heapMiB) * MiB) / ((last.round - first.round) * peers)
  const perRequest = ((last.heapMiB - first.heapMiB) * MiB) / (last.requests - first.requests)
  console.log(
    `RSS end / first reading ${(last.rssMiB / first.rssMiB).toFixed(2)}; heap growth after the first reading: ${perPeer.toFixed(0)} bytes per peer, ${perRequest.toFixed(1)} bytes per ${sync ? 'sync' : 'request'}; ${failures} peers failed; most grown:`,
  )
  for (const line of classGrowth(first.summary, last.summary)) console.log(`  ${line}`)
  process.exitCode = failures > 0 ? 1 : 0
} finally {
  sn.child.kill()
  await origin.close()
  await rm(dir, { recursive: true, force: true })
}
