import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import type { PreheatState, SupernodeStatus } from '../../core/protocol/supernode-answers.ts'
import { procUsage } from '../lib/proc-stats.ts'
import { BIN, median, run, startSupernode } from '../lib/processes.ts'
import { startBlobOrigin } from './blob-origin.ts'
import { type BenchRedis, startBenchRedis } from './redis-server.ts'
import { writeSyntheticTasks } from './synthetic-tasks.ts'

export interface ClusterBenchOptions {
  /** Tasks the cluster's store holds. */
  tasks: number
  /** Of those, preheated for real through supernode A (the rest are synthetic records). */
  real: number
  /** Length of the idle measurement. */
  idleSeconds: number
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void
  /** Fails a run that takes longer, naming the step it was in (tests); none by default. */
  deadlineMs?: number
}

export const DEFAULT_CLUSTER_BENCH: ClusterBenchOptions = { tasks: 200, real: 200, idleSeconds: 3 }

export interface ClusterBenchResult {
  options: ClusterBenchOptions
  preheatSeconds: number
  /** Tasks each supernode holds, and the ones with periodic work (none when idle). */
  held: { tasks: number; active: number }[]
  /** Idle CPU (cores) and RSS of each supernode. */
  idle: { cores: number; rssBytes: number }[]
  redis: { commandsPerSecond: number; cores: number; usedMemoryBytes: number; keys: number }
  /** `dragonfly get` of a preheated task, whole process (node start included), median of 3. */
  getMs: { owner: number; nonOwner: number }
  /** kill -9 of the owner of a running download → the follower holds its lease. */
  failoverMs: number
  /** Default lease the supernodes ran with. */
  sourceBytes: number
}

const SLOW_BYTES = 32 * 2 ** 20

/** Two supernodes on one redis-server: preheat, idle, get through each, then kill the owner of a running download. */
export async function runClusterBench(options: ClusterBenchOptions): Promise<ClusterBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'df-bench-cluster-'))
  const redis = await startBenchRedis(dir)
  const origin = await startBlobOrigin({ blobBytes: 4096, slowBytes: SLOW_BYTES, slowRate: 4 * 2 ** 20 })
  const started: ChildProcess[] = []
  // A stall fails with the step it stalled in (a test's own timeout says nothing of where).
  let step = 'starting the supernodes'
  let watchdog: ReturnType<typeof setTimeout> | undefined
  const deadline = options.deadlineMs
  const stalled = new Promise<never>((_, reject) => {
    if (deadline) watchdog = setTimeout(() => reject(new Error(`bench/cluster stalled for ${deadline} ms in: ${step}`)), deadline)
  })
  try {
    return await Promise.race([stalled, body()])
  } finally {
    clearTimeout(watchdog)
    for (const child of started) if (child.exitCode === null) child.kill('SIGKILL')
    await redis.stop()
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  }

  async function body(): Promise<ClusterBenchResult> {
    const [a, b] = await Promise.all(
      [0, 1].map(async (i) => {
        const s = await startSupernode(join(dir, `sn${i}`), ['--cluster', redis.url, '--location', `r${i}`])
        started.push(s.child)
        return s
      }),
    )
    const log = (line: string): void => {
      step = line
      options.log?.(line)
    }
    const real = Math.min(options.real, options.tasks)
    log(`preheating ${real} tasks through A`)
    const t0 = performance.now()
    await preheatAll(a!.url, real, (i) => origin.url(`/blob/${i}`))
    // B keeps copies of every tenth task (from A, through the cluster).
    await preheatAll(b!.url, Math.ceil(real / 10), (i) => origin.url(`/blob/${i * 10}`))
    const preheatSeconds = (performance.now() - t0) / 1000
    log(`preheated in ${preheatSeconds.toFixed(1)} s; writing ${options.tasks - real} synthetic records`)
    await writeSyntheticTasks(redis, options.tasks - real, { id: 'f'.repeat(16), url: 'http://127.0.0.1:9' })

    step = 'waiting for both supernodes to settle'
    const held = await Promise.all([a!.url, b!.url].map((url) => settled(url)))
    log(`settled: ${JSON.stringify(held)}; idle for ${options.idleSeconds} s`)
    // What settling and the synthetic writes left behind (GC, JIT) is not idle cost.
    await new Promise((r) => setTimeout(r, 3_000))
    const idle = await measureIdle(redis, [a!.child.pid!, b!.child.pid!], options.idleSeconds)

    const gets = async (via: string, blobs: number[]): Promise<number> => {
      const times: number[] = []
      for (const i of blobs) {
        step = `get of blob ${i} through ${via}`
        const r = await run(process.execPath, [
          BIN,
          'get',
          origin.url(`/blob/${i}`),
          '-o',
          join(dir, `get-${i}`),
          '--home',
          join(dir, `peer-${i}`),
          '--supernode',
          via,
          '--no-back-source',
        ])
        if (r.code !== 0) throw new Error(`get of blob ${i} through ${via} failed: ${r.stderr}`)
        times.push(r.ms)
      }
      return median(times)
    }
    // Blobs B never held: it follows A's record and copies from A first.
    const pick = (offset: number) => [1, 2, 3].map((k) => (k * 10 + offset) % Math.max(real, 1)).filter((i) => i % 10 !== 0)
    log('gets through A and B')
    const getMs = { owner: await gets(a!.url, pick(1)), nonOwner: await gets(b!.url, pick(3)) }
    log('failover')
    const failoverMs = await measureFailover(redis, a!, b!.url, origin.url('/slow'))
    return { options, preheatSeconds, held, ...idle, getMs, failoverMs, sourceBytes: origin.bytes }
  }
}

async function api<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init)
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

/** A 503 (the store slow to answer on a loaded machine) is retried, as a client would, and said on stderr. */
async function retry<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt()
    } catch (error) {
      if (n >= 4 || !/: 503 /.test((error as Error).message)) throw error
      console.error(`retrying after ${(error as Error).message}`)
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

/** Preheats `count` URLs through `supernode`, 16 at a time, each until complete. */
async function preheatAll(supernode: string, count: number, url: (i: number) => string): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) {
      const { taskId } = await retry(() =>
        api<{ taskId: string }>(`${supernode}${SUPERNODE_ROUTES.preheat}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url: url(i) }),
        }),
      )
      for (;;) {
        const state = await api<PreheatState>(`${supernode}${routePath(SUPERNODE_ROUTES.preheatState, { taskId })}?wait=30000`)
        if (state.state === 'failed') throw new Error(`preheat of ${url(i)} failed: ${JSON.stringify(state.error)}`)
        if (state.state === 'complete') break
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
}

/**
 * Waits until the supernode has published everything (no task with periodic work left), at most 60 s.
 * Each status read gets 5 s: a read that never answers is tried again, not waited on for good.
 */
async function settled(supernode: string): Promise<{ tasks: number; active: number }> {
  const deadline = Date.now() + 60_000
  let last: { tasks: number; active: number } | undefined
  let failure: unknown
  for (;;) {
    const status = await api<SupernodeStatus>(`${supernode}${SUPERNODE_ROUTES.status}`, { signal: AbortSignal.timeout(5_000) }).catch((error: unknown) => {
      failure = error
      return null
    })
    if (status && !status.cluster) throw new Error(`${supernode} is not in a cluster`)
    if (status?.cluster) {
      last = { tasks: status.cluster.tasks, active: status.cluster.active }
      if (last.active === 0) return last
    }
    if (Date.now() > deadline) {
      if (last) return last
      throw new Error(`${supernode} status did not answer for 60 s: ${(failure as Error)?.message}`)
    }
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function measureIdle(redis: BenchRedis, pids: number[], seconds: number): Promise<Pick<ClusterBenchResult, 'idle' | 'redis'>> {
  const commands = async () => Number((await redis.info()).total_commands_processed)
  const cpu = (pid: number) => procUsage(pid)?.cpuSeconds ?? Number.NaN
  const before = { commands: await commands(), cpu: pids.map(cpu), redis: cpu(redis.pid), at: performance.now() }
  await new Promise((r) => setTimeout(r, seconds * 1000))
  const info = await redis.info()
  const elapsed = (performance.now() - before.at) / 1000
  return {
    idle: pids.map((pid, i) => ({ cores: (cpu(pid) - before.cpu[i]!) / elapsed, rssBytes: procUsage(pid)?.rssBytes ?? 0 })),
    redis: {
      // The first INFO is counted in the second reading; the second one is not yet.
      commandsPerSecond: (Number(info.total_commands_processed) - before.commands - 1) / elapsed,
      cores: (cpu(redis.pid) - before.redis) / elapsed,
      usedMemoryBytes: Number(info.used_memory),
      keys: Number(await redis.command(['DBSIZE'])),
    },
  }
}

/** A slow download owned by `owner` and followed by `follower`; kill -9 of the owner; time until the follower holds the lease. */
async function measureFailover(redis: BenchRedis, owner: { url: string; child: ChildProcess }, follower: string, url: string): Promise<number> {
  const body = JSON.stringify({ url })
  const post = (supernode: string) =>
    api<{ taskId: string }>(`${supernode}${SUPERNODE_ROUTES.preheat}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  const { taskId } = await post(owner.url)
  await post(follower)
  const lease = async () => (await redis.command(['GET', `dragonfly:lease:${taskId}`])) as string | null
  const holder = await lease()
  if (!holder) throw new Error('the owner of the slow download holds no lease')
  // Let the follower copy for a while, as it would in a real transfer.
  await new Promise((r) => setTimeout(r, 1_000))
  owner.child.kill('SIGKILL')
  const killed = performance.now()
  for (;;) {
    const now = await lease()
    if (now && now !== holder) return performance.now() - killed
    if (performance.now() - killed > 60_000) throw new Error('no supernode took the lease within 60 s')
    await new Promise((r) => setTimeout(r, 10))
  }
}
