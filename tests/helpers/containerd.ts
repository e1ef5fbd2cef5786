import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

export interface Containerd {
  /** Root dir: content store and snapshots live below it. */
  root: string
  /** `ctr --address <socket> --namespace dragonfly-test <args>`; rejects with its stderr. */
  ctr(args: string[]): Promise<string>
  log(): string
  stop(): Promise<void>
}

/**
 * Debian's containerd as the test's own process: root, state, sockets and the
 * `opt` dir in `dir`, the CRI plugin off (it wants CNI), no system service.
 */
export async function startContainerd(dir: string): Promise<Containerd> {
  const root = join(dir, 'root')
  const socket = join(dir, 'containerd.sock')
  await mkdir(dir, { recursive: true })
  const config = join(dir, 'config.toml')
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${root}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${join(dir, 'opt')}"`,
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn('containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const ctr = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await run('ctr', ['--address', socket, '--namespace', 'dragonfly-test', ...args], { maxBuffer: 64 * 1024 * 1024 })
      return stdout
    } catch (error) {
      throw new Error(`ctr ${args.join(' ')} failed: ${(error as { stderr?: string }).stderr ?? error}`)
    }
  }
  const until = Date.now() + 20_000
  while (
    !(await ctr(['version']).then(
      () => true,
      () => false,
    ))
  ) {
    if (Date.now() > until || child.exitCode !== null) {
      child.kill('SIGKILL')
      throw new Error(`containerd did not start: ${output}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    root,
    ctr,
    log: () => output,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('close', () => resolve()), child.kill('SIGTERM')))),
  }
}

/** A containerd `hosts.toml` sending pulls and resolves of `server` to the mirror at `mirror` (both URLs). */
export function hostsToml(server: string, mirror: string): string {
  return [`server = "${server}"`, '', `[host."${mirror}"]`, '  capabilities = ["pull", "resolve"]', ''].join('\n')
}
