import { type ChildProcess, spawn } from 'node:child_process'
import type { CpuGroup } from './cpu.ts'

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Date.now() when it exited. */
  endedAt: number
  stdout: string
  stderr: string
}

export interface Launched {
  readonly pid: number
  /** Date.now() right before the spawn. */
  readonly startedAt: number
  readonly exited: Promise<Exit>
  /** stdout and stderr so far. */
  output(): string
  /** Resolves with the first match of `pattern` in its output; rejects if it exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>
}

/** Output kept per stream: a chatty process must not grow the bench's memory. */
const KEEP = 256 * 1024

/**
 * Starts the bench's processes and keeps the list of those still running,
 * so that every one of them is killed at the end, on an error or a signal.
 */
export class Launcher {
  private readonly running = new Map<Launched, ChildProcess>()

  /** `unset`: variables of this process's environment the child does not get. */
  start(argv: string[], options: { cwd: string; group?: CpuGroup; env?: Record<string, string>; unset?: readonly string[] }): Launched {
    const [cmd, ...args] = options.group ? options.group.wrap(argv) : argv
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...options.env }
    for (const name of options.unset ?? []) delete env[name]
    const startedAt = Date.now()
    const child = spawn(cmd!, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'], env })
    let stdout = ''
    let stderr = ''
    const watchers = new Set<() => void>()
    const keep = (text: string, chunk: Buffer): string => (text.length > KEEP ? text.slice(-KEEP / 2) : text) + chunk.toString()
    child.stdout!.on('data', (d: Buffer) => {
      stdout = keep(stdout, d)
      for (const w of watchers) w()
    })
    child.stderr!.on('data', (d: Buffer) => {
      stderr = keep(stderr, d)
      for (const w of watchers) w()
    })
    let endedAt = 0
    child.on('exit', () => (endedAt = Date.now()))
    const exited = new Promise<Exit>((resolve) => {
      child.on('error', (error) => {
        stderr += String(error)
        endedAt ||= Date.now()
      })
      child.on('close', (code, signal) => resolve({ code, signal, endedAt: endedAt || Date.now(), stdout, stderr }))
    })
    const launched: Launched = {
      pid: child.pid ?? -1,
      startedAt,
      exited,
      output: () => stdout + stderr,
      waitFor: (pattern, timeoutMs) =>
        new Promise((resolve, reject) => {
          const check = (): void => {
            const m = pattern.exec(stdout + stderr)
            if (!m) return
            done()
            resolve(m)
          }
          const timer = setTimeout(() => {
            done()
            reject(new Error(`${argv.join(' ')}: no ${pattern} within ${timeoutMs} ms; output: ${(stdout + stderr).slice(-500)}`))
          }, timeoutMs)
          const done = (): void => {
            clearTimeout(timer)
            watchers.delete(check)
          }
          watchers.add(check)
          void exited.then((e) => {
            if (!watchers.has(check)) return
            done()
            reject(new Error(`${argv.join(' ')} exited (${e.code ?? e.signal}) before printing ${pattern}: ${(e.stdout + e.stderr).slice(-500)}`))
          })
          check()
        }),
    }
    this.running.set(launched, child)
    void exited.then(() => this.running.delete(launched))
    if (child.pid) options.group?.track(child.pid, exited)
    return launched
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(launched: Launched, graceMs = 3000): Promise<Exit> {
    const child = this.running.get(launched)
    if (child) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await launched.exited
      clearTimeout(timer)
    }
    return launched.exited
  }

  /** Waits for every one of `list` to exit; those still running after `timeoutMs` are stopped. */
  async waitAll(list: Launched[], timeoutMs: number): Promise<Exit[]> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))
    await Promise.race([Promise.all(list.map((l) => l.exited)), timeout])
    clearTimeout(timer)
    return Promise.all(list.map((l) => this.stop(l)))
  }

  async stopAll(graceMs = 3000): Promise<void> {
    await Promise.all([...this.running.keys()].map((l) => this.stop(l, graceMs)))
  }

  /** SIGKILL to every process still running (for a signal handler: synchronous). */
  killAllNow(): void {
    for (const child of this.running.values()) child.kill('SIGKILL')
  }
}
