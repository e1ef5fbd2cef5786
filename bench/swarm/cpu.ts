import { accessSync, constants, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { machineBusySeconds, procUsage } from '../lib/proc-stats.ts'

/**
 * The CPU time of a set of processes, exited ones included. With cgroup v2
 * (mounted anywhere, the hybrid layout's /sys/fs/cgroup/unified too) every
 * process starts inside its own group, whose `cpu.stat` counts all of it;
 * cpu.stat's usage exists in every v2 group, whether or not the cpu
 * controller is enabled. Without cgroup v2, /proc/<pid>/stat of each
 * tracked process is sampled and the time after its last sample is lost.
 */
export interface CpuGroup {
  readonly method: 'cgroup' | 'sampled'
  /** argv that runs `argv` inside the group from its first instruction. */
  wrap(argv: string[]): string[]
  /** Called for every process started with `wrap`, with a promise of its exit. */
  track(pid: number, exited: Promise<unknown>): void
  /** CPU seconds (user + system) of every process that ran in the group so far. */
  cpuSeconds(): number
  /** The kernel's part of cpuSeconds (NaN where only sampled totals are known). */
  systemSeconds(): number
  /** SIGKILL to every process still in the group. */
  killAll(): void
  /** Kills what is left and removes the group. Never throws. */
  remove(): void
}

const SAMPLE_MS = 100

export function createCpuGroup(name: string): CpuGroup {
  const root = cgroup2Root()
  if (root) {
    const dir = join(root, name)
    try {
      mkdirSync(dir)
      return cgroupGroup(dir)
    } catch {}
  }
  return sampledGroup()
}

/**
 * Removes the groups of bench runs whose process is gone (a run killed with
 * SIGKILL cannot clean up), once the namespace sweep has killed what ran in
 * them; `stale` picks them by name.
 */
export function sweepStaleGroups(stale: (name: string) => boolean): void {
  const root = cgroup2Root()
  if (!root) return
  for (const name of readdirSync(root).filter(stale)) {
    try {
      rmdirSync(join(root, name))
    } catch {}
  }
}

/**
 * Cores of this machine, the CPU seconds all of them have been busy so far
 * (every process, kernel work included), and the part of it in softirq: on
 * this bench mostly the kernel moving packets through the veths and the
 * bridge, which no process is charged for.
 */
export function machineCpu(): { cores: number; busySeconds: number; softirqSeconds: number } {
  return { cores: availableParallelism(), busySeconds: machineBusySeconds() ?? Number.NaN, softirqSeconds: softirqSeconds() }
}

function softirqSeconds(): number {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/)
    return Number(fields[7]) / 100
  } catch {
    return Number.NaN
  }
}

function cgroup2Root(): string | null {
  try {
    const line = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[2] === 'cgroup2')
    const dir = line?.split(' ')[1]
    if (!dir) return null
    accessSync(dir, constants.W_OK)
    return dir
  } catch {
    return null
  }
}

function cgroupGroup(dir: string): CpuGroup {
  const procs = join(dir, 'cgroup.procs')
  const pids = (): number[] => {
    try {
      return readFileSync(procs, 'utf8').split('\n').filter(Boolean).map(Number)
    } catch {
      return []
    }
  }
  const killAll = (): void => {
    try {
      writeFileSync(join(dir, 'cgroup.kill'), '1')
    } catch {
      for (const pid of pids()) kill(pid)
    }
  }
  return {
    method: 'cgroup',
    // The shell joins the group, then execs the command in its place: nothing runs outside it.
    wrap: (argv) => ['sh', '-c', 'echo $$ > "$0" && exec "$@"', procs, ...argv],
    track: () => {},
    cpuSeconds: () => Number(/usage_usec (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? Number.NaN) / 1e6,
    systemSeconds: () => Number(/system_usec (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? Number.NaN) / 1e6,
    killAll,
    remove() {
      killAll()
      // A killed process leaves the group a moment later; rmdir fails with EBUSY until then.
      for (let tries = 0; tries < 50; tries++) {
        try {
          rmdirSync(dir)
          return
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50)
        }
      }
    },
  }
}

function sampledGroup(): CpuGroup {
  const seconds = new Map<number, number>()
  const running = new Set<number>()
  const sample = (): void => {
    for (const pid of running) {
      const usage = procUsage(pid)
      if (usage) seconds.set(pid, usage.cpuSeconds)
    }
  }
  const timer = setInterval(sample, SAMPLE_MS)
  timer.unref()
  return {
    method: 'sampled',
    wrap: (argv) => argv,
    track(pid, exited) {
      seconds.set(pid, 0)
      running.add(pid)
      // Once it is gone its pid may be someone else's: stop reading it.
      void exited.finally(() => running.delete(pid))
    },
    cpuSeconds: () => {
      sample()
      return [...seconds.values()].reduce((a, b) => a + b, 0)
    },
    systemSeconds: () => Number.NaN,
    // Without a group there is no set of processes to kill but the launcher's own children, which it kills itself.
    killAll: () => {},
    remove: () => clearInterval(timer),
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {}
}
