import { type ChildProcess, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

export const BIN = resolve(import.meta.dirname, '../../bin/dragonfly.cjs')
const DIST = resolve(import.meta.dirname, '../../dist')

const children = new Set<ChildProcess>()

export function tempDir(prefix = 'df-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix))
}

export async function randomFile(dir: string, size: number, name = 'source.bin'): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, randomBytes(size))
  return path
}

export function sha256File(path: string): Promise<string> {
  return new Promise((done, fail) => {
    const hash = createHash('sha256')
    createReadStream(path)
      .on('data', (c) => hash.update(c))
      .on('end', () => done(hash.digest('hex')))
      .on('error', fail)
  })
}

export interface Run {
  child: ChildProcess
  stdout: string
  stderr: string
  done: Promise<number>
}

/** Runs `dragonfly <args>` as a real process; the cwd has no config file unless given. */
export function dragonfly(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? tmpdir(),
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    done: new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)))),
  }
  child.stdout!.on('data', (d) => (run.stdout += d))
  child.stderr!.on('data', (d) => (run.stderr += d))
  run.done.finally(() => children.delete(child))
  return run
}

/**
 * Writes a config file at `path` whose `plugins` are the built ones (dist/),
 * e.g. `["storageFs()", "authHeader({ token: 'x' })"]`: each factory is
 * imported from the plugin file its name spells in kebab case.
 */
export async function writePluginConfig(path: string, plugins: string[]): Promise<string> {
  const names = [...new Set(plugins.map((p) => /^(\w+)\(/.exec(p)![1]!))]
  const file = (name: string) => join(DIST, `plugins/${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.mjs`)
  const imports = names.map((name) => `import ${name} from ${JSON.stringify(file(name))}`)
  await writeFile(path, [...imports, `export default { plugins: [${plugins.join(', ')}] }`].join('\n'))
  return path
}

export interface SupernodeProcess {
  url: string
  run: Run
  stop(): Promise<void>
}

export async function startSupernode(home: string, extra: string[] = [], env?: Record<string, string>): Promise<SupernodeProcess> {
  return startServer(['supernode', '--port', '0', '--host', '127.0.0.1', '--home', home, ...extra], env)
}

/** `dragonfly daemon` on free ports (mirror/API and upload server), with the given supernode. */
export async function startDaemon(home: string, supernode: string, extra: string[] = []): Promise<SupernodeProcess> {
  return startServer(['daemon', '--port', '0', '--upload-port', '0', '--supernode', supernode, '--home', home, ...extra])
}

async function startServer(args: string[], env?: Record<string, string>): Promise<SupernodeProcess> {
  const run = dragonfly(args, { env })
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start: ${run.stdout}${run.stderr}`)), 30_000)
    const check = (): void => {
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(run.stdout + run.stderr)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    run.child.stdout!.on('data', check)
    run.child.stderr!.on('data', check)
    run.done.then(() => reject(new Error(`${args[0]} exited: ${run.stdout}${run.stderr}`)))
  })
  return {
    url,
    run,
    async stop() {
      run.child.kill('SIGTERM')
      await run.done
    },
  }
}

export function killAll(): void {
  for (const child of children) child.kill('SIGKILL')
  children.clear()
}

export function parseJsonLine<T = Record<string, unknown>>(stdout: string): T {
  const line = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop()
  if (!line) throw new Error(`no JSON in output: ${stdout}`)
  return JSON.parse(line) as T
}
