import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export type RuntimeName = 'node' | 'bun' | 'deno'
export const RUNTIMES: RuntimeName[] = ['node', 'bun', 'deno']

const ROOT = resolve(import.meta.dirname, '../..')
const BIN = join(ROOT, 'bin/dragonfly.cjs')

/** The argv that runs `dragonfly` on a runtime: the built CLI, as a user runs it. */
export function dragonflyArgv(runtime: RuntimeName): [string, ...string[]] {
  if (runtime === 'bun') return [join(ROOT, 'node_modules/.bin/bun'), BIN]
  if (runtime === 'deno') return [join(ROOT, 'node_modules/.bin/deno'), 'run', '-A', BIN]
  return [process.execPath, BIN]
}

/** These suites test the build; they do not make it (the lead's globalSetup or `npm run build` does). */
export function assertBuilt(): void {
  if (!existsSync(join(ROOT, 'dist/cli.mjs'))) throw new Error('dist/cli.mjs is missing: run `npm run build` before the runtime tests')
}

export interface Proc {
  runtime: RuntimeName
  child: ChildProcess
  stdout: string
  stderr: string
  /** Exit code (128 + n after a signal). */
  exited: Promise<number>
}

const live = new Set<ChildProcess>()
const temps: string[] = []

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  temps.push(dir)
  return dir
}

/** Starts `dragonfly <args>` on `runtime` in an empty temp cwd, so no config file is picked up. */
export function runDragonfly(runtime: RuntimeName, args: string[], cwd: string): Proc {
  const [cmd, ...pre] = dragonflyArgv(runtime)
  const child = spawn(cmd, [...pre, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    // consola drops info lines under a test runner (NODE_ENV=test); the supernode's address is one.
    env: { ...process.env, NO_COLOR: '1', CONSOLA_LEVEL: '3', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' },
  })
  live.add(child)
  const proc: Proc = {
    runtime,
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((done) => child.on('close', (code, signal) => done(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : 15) : 1)))),
  }
  child.stdout!.on('data', (d: Buffer) => (proc.stdout += d))
  child.stderr!.on('data', (d: Buffer) => (proc.stderr += d))
  void proc.exited.then(() => live.delete(child))
  return proc
}

export function describeProc(proc: Proc): string {
  return `[${proc.runtime}] ${proc.child.spawnargs.join(' ')}\n--- stdout\n${proc.stdout}\n--- stderr\n${proc.stderr}`
}

export interface SupernodeProc {
  proc: Proc
  url: string
  /** SIGTERM, then the exit code; SIGKILL if it has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<number>
}

export function startSupernode(runtime: RuntimeName, home: string, cwd: string, extra: string[] = []): Promise<SupernodeProc> {
  return startServer(runtime, 'supernode', ['--port', '0', '--host', '127.0.0.1', '--home', home, ...extra], cwd)
}

/** A daemon (long-lived peer, registry mirror, local API) on a free port. */
export function startDaemon(runtime: RuntimeName, home: string, supernode: string, cwd: string, extra: string[] = []): Promise<SupernodeProc> {
  return startServer(runtime, 'daemon', ['--port', '0', '--upload-port', '0', '--supernode', supernode, '--home', home, ...extra], cwd)
}

async function startServer(runtime: RuntimeName, role: 'supernode' | 'daemon', args: string[], cwd: string): Promise<SupernodeProc> {
  const proc = runDragonfly(runtime, [role, ...args], cwd)
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`${role} did not report its address in 60 s\n${describeProc(proc)}`)), 60_000)
    const look = (): void => {
      const m = new RegExp(`${role} listening on (http://127\\.0\\.0\\.1:\\d+)`).exec(proc.stdout + proc.stderr)
      if (!m) return
      clearTimeout(timer)
      done(m[1]!)
    }
    proc.child.stdout!.on('data', look)
    proc.child.stderr!.on('data', look)
    void proc.exited.then(() => {
      clearTimeout(timer)
      fail(new Error(`${role} exited before listening\n${describeProc(proc)}`))
    })
  })
  return {
    proc,
    url,
    async stop(graceMs = 20_000) {
      proc.child.kill('SIGTERM')
      const kill = setTimeout(() => proc.child.kill('SIGKILL'), graceMs)
      const code = await proc.exited
      clearTimeout(kill)
      return code
    },
  }
}

export function parseJsonOutput<T>(proc: Proc): T {
  const line = proc.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop()
  if (!line) throw new Error(`no JSON line on stdout\n${describeProc(proc)}`)
  return JSON.parse(line) as T
}

export function sha256File(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256')
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => done(hash.digest('hex')))
      .on('error', fail)
  })
}

/** For afterAll: no child outlives its suite, and the temp dirs go with them. */
export async function cleanup(): Promise<void> {
  const waits = [...live].map((child) => new Promise((done) => (child.exitCode !== null || child.signalCode !== null ? done(null) : child.once('close', done))))
  for (const child of live) child.kill('SIGKILL')
  await Promise.all(waits)
  live.clear()
  await Promise.all(temps.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
}
