import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BIN } from '../../lib/processes.ts'
import { withOrigin } from './origin.ts'
import type { HostRun, SystemContext, SystemOutcome } from './system.ts'

const SUPERNODE_PORT = 8002
/** Outside the repository, so its example dragonfly.config.ts is not part of what is measured. */
export const CWD = tmpdir()
/** Extra Node flags for the supernode and every get (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`): NODE_OPTIONS refuses some. */
export const NODE_ARGS = process.env.BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []

interface GetJson {
  bytes: number
  durationMs: number
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
}

/**
 * A cold `dragonfly supernode` on host 0 (its origin beside it, on the same
 * host), then `dragonfly get <origin url>` on every peer host at once, with
 * the CLI's defaults: no rate limits (the links are the limit), the
 * advertised address picked by the get (the host's one IPv4).
 */
export const runDragonfly = (ctx: SystemContext): Promise<SystemOutcome> => withOrigin(ctx, (url) => getThroughSupernode(ctx, url))

/** A cold supernode on host 0, with the context's config; `stop` ends it. */
export async function startBenchSupernode(ctx: SystemContext): Promise<{ url: string; stop(): Promise<unknown> }> {
  const supernode = ctx.start(
    ctx.source,
    [
      process.execPath,
      ...NODE_ARGS,
      BIN,
      'supernode',
      '--host',
      ctx.source.ip,
      '--port',
      String(SUPERNODE_PORT),
      '--home',
      join(ctx.dir, 'supernode'),
      ...configArgs(ctx),
    ],
    CWD,
  )
  const stop = () => ctx.launcher.stop(supernode)
  try {
    const [, url] = await supernode.waitFor(/listening on (http:\/\/[\d.]+:\d+)/, 30_000)
    return { url: url!, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

export const configArgs = (ctx: SystemContext): string[] => (ctx.dragonflyConfig ? ['--config', ctx.dragonflyConfig] : [])

async function getThroughSupernode(ctx: SystemContext, originUrl: string): Promise<HostRun[]> {
  const supernode = await startBenchSupernode(ctx)
  try {
    const runs = ctx.peers.map((h) => ({ h, home: join(ctx.dir, `peer-${h.index}`), output: join(ctx.dir, `out-${h.index}.bin`) }))
    await Promise.all(runs.map(({ home }) => mkdir(home, { recursive: true })))
    ctx.markStart()
    // No `--digest`: like aria2's torrent, each get checks every piece against its digest and nothing more (a
    // whole-file sha256 on top cost the 8 gets 1.2-3.6 of ~25 CPU s at 100 Mbit/s); the bench checks each file.
    const gets = runs.map(({ h, home, output }) =>
      ctx.start(
        h,
        [
          process.execPath,
          ...NODE_ARGS,
          BIN,
          'get',
          originUrl,
          '-o',
          output,
          '--home',
          home,
          '--supernode',
          supernode.url,
          '--daemon',
          'off',
          '--json',
          ...configArgs(ctx),
        ],
        CWD,
      ),
    )
    const exits = await ctx.launcher.waitAll(gets, ctx.timeoutMs)
    ctx.markEnd()
    return exits.map((e, i): HostRun => {
      const { h, output } = runs[i]!
      const last = e.stdout.trim().split('\n').pop() ?? ''
      if (e.code !== 0 || !last.startsWith('{'))
        return { host: h.index, seconds: null, output, failure: `get exited ${e.code ?? e.signal}: ${(last || e.stderr.trim()).slice(-300)}` }
      const r = JSON.parse(last) as GetJson
      return {
        host: h.index,
        seconds: (e.endedAt - gets[i]!.startedAt) / 1000,
        output,
        innerSeconds: r.durationMs / 1000,
        from: { peers: r.bytesFromPeers, supernode: r.bytesFromSupernode, source: r.bytesFromSource },
      }
    })
  } finally {
    await supernode.stop()
  }
}
