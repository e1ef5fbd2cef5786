import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:net'

export interface BenchRedis {
  url: string
  pid: number
  /** `INFO` fields (stats, memory, …) as numbers where they are numeric. */
  info(): Promise<Record<string, string>>
  /** Runs one command on a fresh connection of the bench's own client. */
  command(args: string[]): Promise<unknown>
  /** Sends many commands pipelined; resolves when all answered. */
  pipeline(commands: string[][]): Promise<void>
  stop(): Promise<void>
}

/** Debian's `redis-server` on a free loopback port, without persistence, and a client of the bench's own. */
export async function startBenchRedis(dir: string): Promise<BenchRedis> {
  const port = await freePort()
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  })
  const url = `redis://127.0.0.1:${port}`
  const { createClient } = await import('@redis/client')
  const client = createClient({ url, socket: { reconnectStrategy: false } })
  client.on('error', () => {})
  for (let tries = 0; ; tries++) {
    try {
      await client.connect()
      break
    } catch (error) {
      if (tries > 100) throw error
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    url,
    pid: child.pid!,
    async info() {
      const text = String(await client.sendCommand(['INFO']))
      const out: Record<string, string> = {}
      for (const line of text.split('\r\n')) {
        const at = line.indexOf(':')
        if (at > 0 && !line.startsWith('#')) out[line.slice(0, at)] = line.slice(at + 1)
      }
      return out
    },
    command: (args) => client.sendCommand(args),
    async pipeline(commands) {
      // node-redis pipelines commands sent without awaiting each one (auto-pipelining).
      for (let i = 0; i < commands.length; i += 5_000) await Promise.all(commands.slice(i, i + 5_000).map((c) => client.sendCommand(c)))
    },
    async stop() {
      await client.close().catch(() => client.destroy())
      if (child.exitCode === null) {
        const closed = new Promise((r) => child.once('close', r))
        child.kill('SIGKILL')
        await closed
      }
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
