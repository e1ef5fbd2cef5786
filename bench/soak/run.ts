import type { ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { procUsage } from '../lib/proc-stats.ts'
import { startDaemon, startSupernode } from '../lib/processes.ts'
import { startContentOrigin } from './content-origin.ts'
import { heapSnapshotFlags, measureHeap } from './heap-probe.ts'
import { PROXY_SUFFIX, ROUTES, type Route, startLoad } from './load.ts'
import { type ProcSample, sampleProcesses } from './proc-sampler.ts'
import { secondHalfSlope } from './slope.ts'

export interface SoakOptions {
  /** Downloads to run; or `seconds` of load. */
  count?: number
  seconds?: number
  concurrency: number
  /** Contents downloaded again and again, and their size. */
  files: number
  sizeKiB: number
  /** Share of downloads for content never asked for before (0..1). */
  uncached: number
  routes: Route[]
  /** Processes whose heap is measured (a snapshot: the live heap after a full GC) at 10 % and at the end of the run. */
  heap: ProcessName[]
  /** Seconds to wait after the load before the last memory reading (does memory come back?). */
  idleSeconds: number
  /** Where the heap snapshots are kept; none are kept without it. */
  keepSnapshots?: string
}

export type ProcessName = 'daemon' | 'supernode'

export const DEFAULT_SOAK: SoakOptions = {
  count: 3000,
  concurrency: 32,
  files: 300,
  sizeKiB: 256,
  uncached: 0.1,
  routes: ROUTES,
  heap: ['daemon', 'supernode'],
  idleSeconds: 0,
}

export interface HeapPoint {
  downloads: number
  bytes: number
}

export interface ProcessReport {
  pid: number
  samples: ProcSample[]
  /** Resident set growth per download over the second half of the run (linear fit), bytes. */
  rssSlope: number
  rssAfterIdle?: number
  heap: HeapPoint[]
  /** Live heap growth per download from 10 % of the run to its end, bytes. */
  heapSlope?: number
}

export interface SoakResult {
  options: SoakOptions
  wallSeconds: number
  downloads: number
  errors: number
  wrongBytes: number
  uncached: number
  byRoute: Record<Route, number>
  p50Ms: number
  p99Ms: number
  firstErrors: string[]
  daemon: ProcessReport
  supernode: ProcessReport
  origin: { requests: number; bytes: number }
}

/**
 * A supernode and a daemon (the built CLI, real processes) and an origin;
 * a steady stream of downloads through the daemon's local API, registry
 * mirror and forward proxy; their memory and descriptors sampled throughout.
 */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  if (!options.count && !options.seconds) throw new Error('give a count or seconds')
  const dir = await mkdtemp(join(tmpdir(), 'df-soak-'))
  const snapshots = options.keepSnapshots ?? join(dir, 'heap')
  await mkdir(snapshots, { recursive: true })
  const size = options.sizeKiB * 1024
  const origin = await startContentOrigin(size)
  // The caches hold the cached contents of every route with room to spare; fresh ones are evicted LRU, so a long
  // run has a steady state instead of a cache (and its task records) that grows with the count.
  const quota = Math.ceil((options.files * options.routes.length * size) / 0.5)
  const snConfig = join(dir, 'supernode.config.json')
  const daemonConfig = join(dir, 'daemon.config.json')
  await writeFile(snConfig, JSON.stringify({ supernode: { cacheQuota: quota } }))
  await writeFile(daemonConfig, JSON.stringify({ daemon: { proxyRules: [`${PROXY_SUFFIX.replace('.', '\\.')}$`], cacheQuota: quota } }))
  const nodeArgs = (name: ProcessName): string[] => (options.heap.includes(name) ? heapSnapshotFlags(snapshots) : [])
  const children: ChildProcess[] = []
  try {
    const sn = await startSupernode(join(dir, 'sn'), ['--config', snConfig], nodeArgs('supernode'))
    children.push(sn.child)
    const daemon = await startDaemon(join(dir, 'daemon'), sn.url, ['--config', daemonConfig, '--registry-mirror', origin.base], nodeArgs('daemon'))
    children.push(daemon.child)
    const pids: Record<ProcessName, number> = { daemon: daemon.child.pid!, supernode: sn.child.pid! }

    const started = performance.now()
    const load = startLoad({ daemon: daemon.url, origin, ...options })
    const sampler = sampleProcesses(pids, () => load.stats.done)
    const heap: Record<ProcessName, HeapPoint[]> = { daemon: [], supernode: [] }
    const measure = async (): Promise<void> => {
      for (const name of options.heap) {
        const summary = await measureHeap(pids[name], snapshots, options.keepSnapshots !== undefined)
        heap[name].push({ downloads: load.stats.done, bytes: summary.bytes })
      }
    }
    // The live heap is read at 10 % of the run and at its end, with the load paused (nothing in flight). Not half-way:
    // a snapshot's own memory shows in the RSS after it, and the RSS slope is fitted over the second half.
    if (options.heap.length > 0) {
      if (options.count) await load.pause(Math.round(options.count * 0.1))
      else {
        await Promise.race([sleep(options.seconds! * 100 - (performance.now() - started)), load.finished])
        await load.pause()
      }
      await measure()
      load.resume()
    }
    const stats = await load.finished
    const wallSeconds = (performance.now() - started) / 1000
    sampler.take()
    sampler.stop()
    // Does the memory come back when nothing happens? (Read apart from the samples: the fit is over the load.)
    const afterIdle: Partial<Record<ProcessName, number>> = {}
    if (options.idleSeconds > 0) {
      await sleep(options.idleSeconds * 1000)
      for (const name of Object.keys(pids) as ProcessName[]) afterIdle[name] = procUsage(pids[name])?.rssBytes
    }
    await measure()

    const report = (name: ProcessName): ProcessReport => {
      const samples = sampler.samples[name]!
      const points = heap[name]
      const [early, end] = [points[0], points.at(-1)]
      return {
        pid: pids[name],
        samples,
        rssSlope: secondHalfSlope(samples.map((s) => ({ x: s.downloads, y: s.rssBytes }))),
        ...(afterIdle[name] ? { rssAfterIdle: afterIdle[name] } : {}),
        heap: points,
        ...(early && end && end.downloads > early.downloads ? { heapSlope: (end.bytes - early.bytes) / (end.downloads - early.downloads) } : {}),
      }
    }
    return {
      options,
      wallSeconds,
      downloads: stats.done,
      errors: stats.errors,
      wrongBytes: stats.wrongBytes,
      uncached: stats.uncached,
      byRoute: stats.byRoute,
      p50Ms: stats.latency.quantile(0.5),
      p99Ms: stats.latency.quantile(0.99),
      firstErrors: stats.firstErrors,
      daemon: report('daemon'),
      supernode: report('supernode'),
      origin: { requests: origin.requests, bytes: origin.bytes },
    }
  } finally {
    await Promise.all(
      children.map(
        (child) => new Promise((exited) => (child.exitCode === null && child.signalCode === null ? child.once('close', exited).kill() : exited(null))),
      ),
    )
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  }
}
