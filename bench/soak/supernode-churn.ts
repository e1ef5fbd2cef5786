/**
 * Does a supernode keep anything of the peers that came and went? Rounds of
 * virtual peers (the real peer API over HTTP, no piece bytes: bench/supernode)
 * register, pull every piece of a preheated file with long-polls, report and
 * leave; the supernode's live heap (a snapshot, after a full GC) is read after
 * the first round and after the last.
 *
 *   node --import jiti/register bench/soak/supernode-churn.ts [--rounds 10] [--peers 200] [--size 16] [--want 8] [--keep-snapshots DIR]
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { procUsage } from '../lib/proc-stats.ts'
import { startSupernode } from '../lib/processes.ts'
import { preheat } from '../supernode/run.ts'
import { runVirtualPeer, type Timing } from '../supernode/virtual-peer.ts'
import { classGrowth } from './class-growth.ts'
import { startContentOrigin } from './content-origin.ts'
import { heapSnapshotFlags, measureHeap } from './heap-probe.ts'
import type { HeapSummary } from './heap-snapshot.ts'

const MiB = 2 ** 20

const { values } = parseArgs({
  options: { rounds: { type: 'string' }, peers: { type: 'string' }, size: { type: 'string' }, want: { type: 'string' }, 'keep-snapshots': { type: 'string' } },
})
const rounds = Number(values.rounds ?? 10)
const peers = Number(values.peers ?? 200)
const sizeMiB = Number(values.size ?? 16)
const want = Number(values.want ?? 8)
if (![rounds, peers, sizeMiB, want].every((x) => Number.isFinite(x) && x > 0) || rounds < 2) {
  console.error('--rounds (>= 2), --peers, --size and --want must be positive numbers')
  process.exit(2)
}

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
  const rows: { round: number; requests: number; heapMiB: number; rssMiB: number; summary: HeapSummary }[] = []
  let failures = 0
  for (let round = 1; round <= rounds; round++) {
    const settled = await Promise.allSettled(
      Array.from({ length: peers }, (_, i) => runVirtualPeer({ supernode: sn.url, url, index: round * peers + i, want, timings })),
    )
    for (const s of settled) if (s.status === 'rejected' && failures++ < 5) console.error(`peer failed: ${s.reason}`)
    if (round === 1 || round === rounds || round === Math.ceil(rounds / 2)) {
      const heap = await measureHeap(pid, snapshots, values['keep-snapshots'] !== undefined)
      rows.push({ round, requests: timings.length, heapMiB: heap.bytes / MiB, rssMiB: (procUsage(pid)?.rssBytes ?? 0) / MiB, summary: heap })
    }
  }
  for (const r of rows) {
    console.log(
      `after round ${String(r.round).padStart(3)}: ${r.round * peers} peers, ${r.requests} requests; live heap ${r.heapMiB.toFixed(2)} MiB, RSS ${r.rssMiB.toFixed(0)} MiB`,
    )
  }
  const [first, last] = [rows[0]!, rows.at(-1)!]
  const perPeer = ((last.heapMiB - first.heapMiB) * MiB) / ((last.round - first.round) * peers)
  const perRequest = ((last.heapMiB - first.heapMiB) * MiB) / (last.requests - first.requests)
  console.log(
    `heap growth after the first round: ${perPeer.toFixed(0)} bytes per peer, ${perRequest.toFixed(1)} bytes per request; ${failures} peers failed; most grown:`,
  )
  for (const line of classGrowth(first.summary, last.summary)) console.log(`  ${line}`)
  process.exitCode = failures > 0 ? 1 : 0
} finally {
  sn.child.kill()
  await origin.close()
  await rm(dir, { recursive: true, force: true })
}
