import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DAEMON_ROUTES } from '../../../core/protocol/routes.ts'
import { BIN } from '../../lib/processes.ts'
import type { Launched } from '../launch.ts'
import { CWD, NODE_ARGS, startBenchSupernode } from './dragonfly.ts'
import { withOrigin } from './origin.ts'
import type { HostRun, SystemContext, SystemOutcome } from './system.ts'

const DAEMON_PORT = 65001
const UPLOAD_PORT = 65002

interface DaemonTask {
  result?: { bytesFromPeers: number; bytesFromSupernode: number; bytesFromSource: number; durationMs: number }
}

/**
 * Dragonfly as a fleet runs it: a `dragonfly daemon` on every peer host,
 * started before the clock (as a host's service is), and at the start one
 * `curl -x` per host through the daemon's HTTP proxy, which turns the GET
 * into a P2P download and streams it to curl. What the clock sees is what a
 * build step or a script with `HTTP_PROXY` set sees; the daemons' start-up
 * CPU is counted all the same. Where the bytes came from is read from each
 * daemon's task list afterwards.
 */
export const runDragonflyDaemon = (ctx: SystemContext): Promise<SystemOutcome> => withOrigin(ctx, (url) => throughDaemons(ctx, url))

async function throughDaemons(ctx: SystemContext, originUrl: string): Promise<HostRun[]> {
  const config = join(ctx.dir, 'daemon.config.mjs')
  // The proxy downloads P2P only what a rule matches; the user's config (`--config`) still applies.
  const base = ctx.dragonflyConfig ? `import base from ${JSON.stringify(ctx.dragonflyConfig)}\n` : 'const base = {}\n'
  const rule = `^${originUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`
  await writeFile(config, `${base}export default { ...base, daemon: { ...base.daemon, proxyRules: [${JSON.stringify(rule)}] } }\n`)
  const supernode = await startBenchSupernode(ctx)
  const daemons: Launched[] = []
  try {
    for (const h of ctx.peers) {
      const home = join(ctx.dir, `peer-${h.index}`)
      await mkdir(home, { recursive: true })
      const argv = [process.execPath, ...NODE_ARGS, BIN, 'daemon', '--port', String(DAEMON_PORT), '--upload-port', String(UPLOAD_PORT)]
      daemons.push(ctx.start(h, [...argv, '--supernode', supernode.url, '--home', home, '--config', config], CWD))
    }
    await Promise.all(daemons.map((d) => d.waitFor(/daemon listening on/, 60_000)))
    const proxy = `http://127.0.0.1:${DAEMON_PORT}`
    ctx.markStart()
    const runs = ctx.peers.map((h) => {
      const output = join(ctx.dir, `out-${h.index}.bin`)
      return { h, output, curl: ctx.start(h, ['curl', '--silent', '--show-error', '--fail', '--proxy', proxy, '--output', output, originUrl], CWD) }
    })
    const exits = await ctx.launcher.waitAll(
      runs.map((r) => r.curl),
      ctx.timeoutMs,
    )
    ctx.markEnd()
    return await Promise.all(
      runs.map(async ({ h, output, curl }, i): Promise<HostRun> => {
        const e = exits[i]!
        if (e.code !== 0) return { host: h.index, seconds: null, output, failure: `curl exited ${e.code ?? e.signal}: ${e.stderr.trim().slice(-300)}` }
        const run: HostRun = { host: h.index, seconds: (e.endedAt - curl.startedAt) / 1000, output }
        const listed = await ctx.launcher.waitAll([ctx.start(h, ['curl', '--silent', '--fail', `${proxy}${DAEMON_ROUTES.tasks}`], CWD)], 10_000)
        const result = (JSON.parse(listed[0]!.stdout || '{}') as { tasks?: DaemonTask[] }).tasks?.[0]?.result
        if (!result) return { ...run, failure: `daemon on host ${h.index} lists no finished task: ${listed[0]!.stdout.slice(-300)}` }
        return {
          ...run,
          innerSeconds: result.durationMs / 1000,
          from: { peers: result.bytesFromPeers, supernode: result.bytesFromSupernode, source: result.bytesFromSource },
        }
      }),
    )
  } finally {
    await Promise.all(daemons.map((d) => ctx.launcher.stop(d)))
    await supernode.stop()
  }
}
