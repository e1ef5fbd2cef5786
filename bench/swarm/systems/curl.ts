import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startOrigin } from './origin.ts'
import type { HostRun, SystemContext, SystemOutcome } from './system.ts'

/** N curl clients at once, each straight from the origin on host 0: the baseline a swarm has to beat. */
export async function runCurl(ctx: SystemContext): Promise<SystemOutcome> {
  const origin = await startOrigin(ctx)
  let hosts: HostRun[]
  try {
    ctx.markStart()
    const runs = ctx.peers.map((h) => {
      const output = join(ctx.dir, `out-${h.index}.bin`)
      return { h, output, curl: ctx.start(h, ['curl', '--silent', '--show-error', '--fail', '--output', output, origin.url], tmpdir()) }
    })
    const exits = await ctx.launcher.waitAll(
      runs.map((r) => r.curl),
      ctx.timeoutMs,
    )
    ctx.markEnd()
    hosts = runs.map(({ h, output, curl }, i): HostRun => {
      const e = exits[i]!
      if (e.code !== 0) return { host: h.index, seconds: null, output, failure: `curl exited ${e.code ?? e.signal}: ${e.stderr.trim().slice(-300)}` }
      return { host: h.index, seconds: (e.endedAt - curl.startedAt) / 1000, output }
    })
  } catch (error) {
    await origin.stop().catch(() => {})
    throw error
  }
  return { hosts, originBytes: await origin.stop() }
}
