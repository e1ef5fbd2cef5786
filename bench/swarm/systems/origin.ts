import { resolve } from 'node:path'
import type { HostRun, SystemContext, SystemOutcome } from './system.ts'

const REPO = resolve(import.meta.dirname, '../../..')
const SCRIPT = resolve(import.meta.dirname, '../origin-process.ts')
export const ORIGIN_PORT = 8080

export interface RunningOrigin {
  url: string
  /** Stops it; resolves with the body bytes it sent. */
  stop(): Promise<number>
}

/** A fresh origin process on host 0 serving the context's file, counted in the system's source-side CPU. */
export async function startOrigin(ctx: SystemContext): Promise<RunningOrigin> {
  // The repository as working directory: that is where `jiti/register` resolves from.
  const origin = ctx.start(ctx.source, [process.execPath, '--import', 'jiti/register', SCRIPT, ctx.file, ctx.source.ip, String(ORIGIN_PORT)], REPO)
  const [, url] = await origin.waitFor(/listening (http:\S+)/, 30_000)
  return {
    url: url!,
    async stop() {
      const exit = await ctx.launcher.stop(origin)
      const line = exit.stdout.trim().split('\n').pop() ?? ''
      const bytes = line.startsWith('{') ? (JSON.parse(line) as { bytes: number }).bytes : Number.NaN
      if (!Number.isFinite(bytes)) throw new Error(`origin did not report its bytes: ${exit.stdout.slice(-300)} ${exit.stderr.slice(-300)}`)
      return bytes
    },
  }
}

/** Runs `clients` against a fresh origin; the outcome carries the bytes the origin sent. */
export async function withOrigin(ctx: SystemContext, clients: (originUrl: string) => Promise<HostRun[]>): Promise<SystemOutcome> {
  const origin = await startOrigin(ctx)
  let hosts: HostRun[]
  try {
    hosts = await clients(origin.url)
  } catch (error) {
    await origin.stop().catch(() => {})
    throw error
  }
  return { hosts, originBytes: await origin.stop() }
}
