import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { METRICS_PATH, routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { startBenchOrigin, writeBenchFile } from '../lib/origin.ts'
import { procUsage, quantile } from '../lib/proc-stats.ts'
import { startSupernode } from '../lib/processes.ts'
import { runVirtualPeer, type Timing, type VirtualPeerOutcome } from './virtual-peer.ts'

export interface SupernodeBenchOptions {
  peers: number
  sizeMiB: number
  /** Pieces asked per pull (the real peer's concurrency). */
  want: number
  /** Upload slots each virtual peer registers with; unset = the supernode's default (6). More lets a pull hand out more pieces. */
  slots?: number
}

export const DEFAULT_SUPERNODE_BENCH: SupernodeBenchOptions = { peers: 1000, sizeMiB: 16, want: 8 }

export interface SupernodeBenchResult {
  options: SupernodeBenchOptions
  pieceCount: number
  outcomes: VirtualPeerOutcome[]
  failures: string[]
  wallSeconds: number
  requests: Record<Timing['kind'], { count: number; p50: number; p99: number }>
  requestCount: number
  assignments: number
  fromPeers: number
  /** The supernode process over the measured phase. */
  supernode: { cpuSeconds: number; peakRssBytes: number; rssBytes: number }
  /** Time inside `swarm.pull` (the supernode's own histogram): pulls and seconds. */
  schedule: { pulls: number; seconds: number }
  /** This process (the virtual peers' HTTP clients), for comparison. */
  clientCpuSeconds: number
  /** Source bytes the origin sent, in file sizes. */
  sourceEgress: number
}

/**
 * One real supernode process (the built CLI) and `peers` virtual peers in
 * this process over real HTTP: the file is preheated first, so the measured
 * phase is registration and scheduling only.
 */
export async function runSupernodeBench(options: SupernodeBenchOptions): Promise<SupernodeBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'df-bench-sn-'))
  const size = Math.round(options.sizeMiB * 2 ** 20)
  const file = join(dir, 'file.bin')
  await writeBenchFile(file, size)
  const origin = await startBenchOrigin(file)
  // A supernode that fails to start must not leave the origin listening (the process would never exit).
  const sn = await startSupernode(join(dir, 'sn')).catch(async (error: unknown) => {
    await origin.close()
    await rm(dir, { recursive: true, force: true })
    throw error
  })
  try {
    const pid = sn.child.pid!
    await preheat(sn.url, origin.url)
    const timings: Timing[] = []
    let peak = 0
    const sampler = setInterval(() => (peak = Math.max(peak, procUsage(pid)?.rssBytes ?? 0)), 100)
    const before = procUsage(pid)!
    const client = process.cpuUsage()
    const started = performance.now()
    const settled = await Promise.allSettled(
      Array.from({ length: options.peers }, (_, index) =>
        runVirtualPeer({ supernode: sn.url, url: origin.url, index, want: options.want, slots: options.slots, timings }),
      ),
    )
    const wallSeconds = (performance.now() - started) / 1000
    const clientUsage = process.cpuUsage(client)
    const after = procUsage(pid)!
    clearInterval(sampler)
    const outcomes = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []))
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []))
    const requests = {} as SupernodeBenchResult['requests']
    for (const kind of ['register', 'work', 'empty', 'report', 'leave'] as const) {
      const ms = timings.filter((t) => t.kind === kind).map((t) => t.ms)
      requests[kind] = { count: ms.length, p50: quantile(ms, 0.5), p99: quantile(ms, 0.99) }
    }
    return {
      options,
      pieceCount: outcomes[0]?.pieceCount ?? 0,
      outcomes,
      failures,
      wallSeconds,
      requests,
      requestCount: timings.length,
      assignments: outcomes.reduce((s, o) => s + o.assignments, 0),
      fromPeers: outcomes.reduce((s, o) => s + o.fromPeers, 0),
      supernode: { cpuSeconds: after.cpuSeconds - before.cpuSeconds, peakRssBytes: Math.max(peak, after.rssBytes), rssBytes: after.rssBytes },
      schedule: await scheduleHistogram(sn.url),
      clientCpuSeconds: (clientUsage.user + clientUsage.system) / 1e6,
      sourceEgress: origin.bytes / size,
    }
  } finally {
    sn.child.kill('SIGTERM')
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Has the supernode fetch and cut the file, and waits until it is complete. */
export async function preheat(supernode: string, url: string): Promise<void> {
  const post = await fetch(`${supernode}${SUPERNODE_ROUTES.preheat}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url }),
  })
  if (!post.ok) throw new Error(`preheat: HTTP ${post.status} ${await post.text()}`)
  const { taskId } = (await post.json()) as { taskId: string }
  for (let i = 0; i < 20; i++) {
    const state = (await (await fetch(`${supernode}${routePath(SUPERNODE_ROUTES.preheatState, { taskId })}?wait=30000`)).json()) as {
      state: string
      error?: unknown
    }
    if (state.state === 'complete') return
    if (state.state === 'failed') throw new Error(`preheat failed: ${JSON.stringify(state.error)}`)
  }
  throw new Error('preheat did not complete')
}

async function scheduleHistogram(supernode: string): Promise<{ pulls: number; seconds: number }> {
  const text = await (await fetch(`${supernode}${METRICS_PATH}`)).text()
  const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
  return { pulls: value('dragonfly_schedule_duration_seconds_count'), seconds: value('dragonfly_schedule_duration_seconds_sum') }
}
