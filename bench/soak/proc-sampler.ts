import { readdirSync } from 'node:fs'
import { procUsage } from '../lib/proc-stats.ts'

export interface ProcSample {
  /** Seconds since sampling started. */
  t: number
  /** Downloads finished when the sample was taken. */
  downloads: number
  rssBytes: number
  openFds: number
}

/** Open file descriptors of a process (Linux /proc); 0 once it is gone. */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

/**
 * Samples resident memory and open descriptors of each named process every
 * `everyMs`, tagged with how many downloads had finished (`progress()`).
 */
export function sampleProcesses(pids: Record<string, number>, progress: () => number, everyMs = 500) {
  const started = performance.now()
  const samples: Record<string, ProcSample[]> = Object.fromEntries(Object.keys(pids).map((name) => [name, []]))
  const take = (): void => {
    const t = (performance.now() - started) / 1000
    const downloads = progress()
    for (const [name, pid] of Object.entries(pids)) {
      const usage = procUsage(pid)
      if (usage) samples[name]!.push({ t, downloads, rssBytes: usage.rssBytes, openFds: openFds(pid) })
    }
  }
  take()
  const timer = setInterval(take, everyMs)
  return {
    samples,
    /** One more sample now (e.g. after the last download). */
    take,
    stop: () => clearInterval(timer),
  }
}
