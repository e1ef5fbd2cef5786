import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { createConnection } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Redis from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { freePort } from './registry.ts'

export interface RedisServer {
  url: string
  port: number
  stop(): Promise<void>
}

export interface RedisOptions {
  /** A port to reuse (a restart at the same address); a free one by default. */
  port?: number
  /** More `redis-server` arguments, e.g. `['--user', 'app', 'on', '>secret', '~*', '&*', '+@all']`. */
  args?: string[]
}

/** Debian's `redis-server` on a free loopback port, in `dir`, with no persistence; stopped by the caller. */
export async function startRedis(dir: string, options: RedisOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort())
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...(options.args ?? [])]
  const child: ChildProcess = spawn('redis-server', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const until = Date.now() + 20_000
  // With ACL users the default user may be off: a NOAUTH or auth error still proves the server answers.
  while (!(await answersPing(port))) {
    if (Date.now() > until || child.exitCode !== null) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not start: ${output}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('close', () => resolve()), child.kill('SIGKILL')))),
  }
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => socket.write('PING\r\n'))
    socket.setTimeout(1_000)
    socket.once('data', (d) => {
      socket.destroy()
      resolve(/^(\+PONG|-NOAUTH|-NOPERM|-WRONGPASS)/.test(d.toString()))
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => (socket.destroy(), resolve(false)))
  })
}

export interface RedisForFile {
  server: RedisServer
  /** For looking at the keys a test left. */
  client: Redis
}

/** A redis-server and a client to it for every test of the calling file: started before them, stopped after. */
export function redisForFile(): RedisForFile {
  const found = {} as RedisForFile
  beforeAll(async () => {
    found.server = await startRedis(await mkdtemp(join(tmpdir(), 'df-redis-')))
    found.client = new Redis(found.server.url)
  })
  afterAll(async () => {
    found.client?.disconnect()
    await found.server?.stop()
  })
  return found
}
