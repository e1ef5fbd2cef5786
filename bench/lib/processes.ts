import { type ChildProcess, spawn } from 'node:child_process'
import { tmpdir } from 'node:os'
import { resolve } from 'node:path'
import { procUsage } from './proc-stats.ts'
import { RUNTIME_ENV, type RuntimeName, runtimeCommand } from './runtimes.ts'

/** The CLI the benches run: this checkout's build, or another one's (`DRAGONFLY_BIN=/old/bin/dragonfly.cjs`) to compare builds. */
export const BIN = process.env.DRAGONFLY_BIN ?? resolve(import.meta.dirname, '../../bin/dragonfly.cjs')

/** Where bench processes run: outside the repository, so its example dragonfly.config.ts is not part of what is measured. */
const CWD = tmpdir()

export interface Finished {
  code: number
  ms: number
  stdout: string
  stderr: string
  /** Peak resident set (VmHWM) in bytes, read from /proc while it ran. */
  peakRss: number
}

/** Samples a process's peak RSS (VmHWM) every `everyMs`; call the result for the highest seen (it survives the process). */
export function peakRssOf(pid: number, everyMs = 100): () => number {
  let peak = 0
  const sample = (): void => {
    const usage = procUsage(pid)
    if (usage) peak = Math.max(peak, usage.peakRssBytes)
    else clearInterval(timer)
  }
  const timer = setInterval(sample, everyMs)
  timer.unref()
  return () => {
    sample()
    return peak
  }
}

/** Runs a command, timing it and sampling its peak RSS (Linux /proc). */
export function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Finished> {
  const started = performance.now()
  const child: ChildProcess = spawn(cmd, args, { cwd: CWD, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...RUNTIME_ENV, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d) => (stdout += d))
  child.stderr!.on('data', (d) => (stderr += d))
  const peakRss = peakRssOf(child.pid!, 20)
  return new Promise((done) => child.on('close', (code) => done({ code: code ?? 1, ms: performance.now() - started, stdout, stderr, peakRss: peakRss() })))
}

/**
 * Starts `dragonfly supernode` on a free port (with `args`, e.g. `--total-limit`) and resolves with its URL;
 * `nodeArgs` go to node, on Node only.
 */
export function startSupernode(
  home: string,
  args: string[] = [],
  nodeArgs: string[] = [],
  runtime: RuntimeName = 'node',
): Promise<{ url: string; child: ChildProcess }> {
  return startServer(['supernode', '--port', '0', '--host', '127.0.0.1', '--home', home, ...args], nodeArgs, runtime)
}

/** Starts `dragonfly daemon` (API, mirror and proxy on a free port, upload server on another) and resolves with its URL. */
export function startDaemon(
  home: string,
  supernode: string,
  args: string[] = [],
  nodeArgs: string[] = [],
  runtime: RuntimeName = 'node',
): Promise<{ url: string; child: ChildProcess }> {
  return startServer(['daemon', '--port', '0', '--upload-port', '0', '--supernode', supernode, '--home', home, ...args], nodeArgs, runtime)
}

/** Runs the built CLI as a server (`nodeArgs` go to node, e.g. heap snapshot flags) until it says where it listens. */
function startServer(args: string[], nodeArgs: string[], runtime: RuntimeName = 'node'): Promise<{ url: string; child: ChildProcess }> {
  const [cmd, ...pre] = runtime === 'node' ? [process.execPath, ...nodeArgs, BIN] : runtimeCommand(runtime, BIN)
  const child = spawn(cmd, [...pre, ...args], { cwd: CWD, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...RUNTIME_ENV } })
  return new Promise((done, fail) => {
    let out = ''
    const seen = (d: Buffer): void => {
      // A long-running server keeps logging: only its start is kept.
      if (out.length < 65_536) out += d
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(out)
      if (m) done({ url: m[1]!, child })
    }
    child.stdout!.on('data', seen)
    child.stderr!.on('data', seen)
    child.on('close', () => fail(new Error(`${args[0]} exited: ${out}`)))
  })
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

export function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`)
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} must be a positive number`)
  return v
}
