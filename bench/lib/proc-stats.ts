import { readFileSync } from 'node:fs'

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS = 100

export interface ProcUsage {
  /** User + system CPU seconds so far. */
  cpuSeconds: number
  rssBytes: number
  /** Peak resident set (VmHWM). */
  peakRssBytes: number
}

/** CPU time and memory of a process from /proc (Linux); null once it is gone. */
export function procUsage(pid: number): ProcUsage | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / TICKS
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024
    return { cpuSeconds, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') }
  } catch {
    return null
  }
}

/**
 * CPU seconds the whole machine has spent busy so far, over all cores (the
 * first line of /proc/stat: user, nice, system, irq, softirq, steal); null
 * where there is no /proc. Differences of two readings cover every process,
 * kernel work on their behalf included.
 */
export function machineBusySeconds(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields
    return (user + nice + system + irq + softirq + steal) / TICKS
  } catch {
    return null
  }
}

/** Value at quantile `q` (0..1) of unsorted samples; NaN when empty. */
export function quantile(samples: ArrayLike<number>, q: number): number {
  const sorted = Float64Array.from(samples).sort()
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}
