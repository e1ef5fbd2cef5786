import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { defineCommand } from 'citty'
import { createDaemonApp } from '../../core/daemon/app.ts'
import { createDaemonMetrics } from '../../core/daemon/metrics.ts'
import { createError } from '../../core/errors.ts'
import type { DownloadResult } from '../../core/peer/download-types.ts'
import { createSourceGuard } from '../../core/source/source-guard.ts'
import { parseIntArg, parseSupernodes, rateArg, repeated } from '../args.ts'
import { createConfiguredPeer, createRoleContext, defined } from '../context.ts'
import { DAEMON_FILE } from '../daemon-handoff.ts'
import { listenError } from '../listen-error.ts'
import { consola } from '../logger.ts'
import { LOG_FORMAT_ARG } from '../logging.ts'
import { reportError } from '../report-error.ts'

export default defineCommand({
  meta: { name: 'daemon', description: 'Run the host daemon: long-lived peer, local cache, registry mirror and HTTP proxy' },
  args: {
    port: { type: 'string', alias: 'p', description: 'Port of the mirror, proxy and local API (0 picks a free one; default 65001)' },
    host: { type: 'string', description: 'Interface that port listens on (default 127.0.0.1)' },
    'upload-port': { type: 'string', description: 'Port of the piece server other hosts download from (default 65002)' },
    supernode: { type: 'string', alias: 's', description: 'Supernode URL (repeat for failover)' },
    'registry-mirror': { type: 'string', description: 'Default upstream registry, e.g. https://registry-1.docker.io' },
    home: { type: 'string', description: 'Cache directory (default ~/.dragonfly)' },
    config: { type: 'string', description: 'Config file (default ./dragonfly.config.*)' },
    location: { type: 'string', description: "This host's location, 'region|zone|rack'" },
    'rate-limit': { type: 'string', description: "Bytes/s each download may receive, and serve ('20MB', '512KB'; 0 = no limit)" },
    'total-limit': { type: 'string', description: 'Bytes/s for everything this daemon transfers, across downloads (same units)' },
    'log-format': LOG_FORMAT_ARG,
  },
  async run({ args, rawArgs }) {
    try {
      const cliSupernodes = parseSupernodes(repeated(rawArgs, 's', 'supernode'))
      const ctx = await createRoleContext(args.config, {
        ...defined({ home: args.home }),
        peer: defined({
          location: args.location,
          rateLimit: rateArg('rate-limit', args['rate-limit']),
          totalLimit: rateArg('total-limit', args['total-limit']),
        }),
        daemon: defined({
          port: parseIntArg('port', args.port, 0, 65535),
          host: args.host,
          uploadPort: parseIntArg('upload-port', args['upload-port'], 0, 65535),
          registryMirror: args['registry-mirror'],
        }),
      })
      const { daemon: cfg, peer: peerCfg } = ctx.config
      const supernodes = cliSupernodes.length > 0 ? cliSupernodes : peerCfg.supernodes
      if (supernodes.length === 0 && !peerCfg.backSource) throw createError('E_BAD_ARGUMENT', 'no --supernode given and back-to-source is off')
      const metrics = createDaemonMetrics()
      const guard = createSourceGuard({ allow: cfg.allowSources, deny: cfg.denySources, connect: ctx.runtime.guardedFetch })
      const peer = createConfiguredPeer(ctx, supernodes, {
        port: cfg.uploadPort,
        onServed: (_task, _piece, bytes) => metrics.served(bytes),
        sourceGuard: guard,
      })
      const upload = await peer.start().catch(async (error: unknown) => {
        await peer.close().catch(() => {})
        throw listenError(error, { port: '--upload-port' }, `upload port ${cfg.uploadPort}`)
      })
      let port = cfg.port
      const daemon = createDaemonApp({
        peer,
        registryMirror: cfg.registryMirror,
        insecureRegistries: cfg.insecureRegistries,
        proxyRules: cfg.proxyRules.map((rule) => new RegExp(rule)),
        port: () => port,
        metrics,
        guard,
        onDownloaded: supernodes.length > 0 ? sourceWarnings() : undefined,
      })
      const server = await ctx.runtime
        .serve(daemon.fetch, { port: cfg.port, hostname: cfg.host, tunnelConnect: guard, keepStreamLength: true })
        .catch(async (error: unknown) => {
          daemon.close()
          await peer.close().catch(() => {})
          throw listenError(error, { port: '--port', host: '--host' }, `${cfg.host}:${cfg.port}`)
        })
      port = server.port
      const reach = cfg.host === '0.0.0.0' || cfg.host === '::' ? '127.0.0.1' : cfg.host
      const url = `http://${reach.includes(':') ? `[${reach}]` : reach}:${server.port}`
      // `dragonfly get` with the same home finds the daemon here.
      const file = join(ctx.config.home, DAEMON_FILE)
      await mkdir(ctx.config.home, { recursive: true })
      await writeFile(file, JSON.stringify({ url, pid: process.pid, upload }))
      const gc = setInterval(
        () => void daemon.flights.collect({ quotaBytes: cfg.cacheQuota, highWatermark: cfg.highWatermark, lowWatermark: cfg.lowWatermark }).catch(() => null),
        10_000,
      )
      consola.info(`daemon listening on ${url} (upload ${upload}, supernodes ${supernodes.join(', ') || 'none'}, home ${ctx.config.home}, ${ctx.runtime.name})`)
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      consola.info('daemon shutting down')
      clearInterval(gc)
      await rm(file, { force: true })
      daemon.close()
      await server.close()
      await peer.close()
      await peer.options.storage.close?.()
    } catch (error) {
      reportError(error)
    }
  },
})

/** How often at most the daemon warns that downloads went to the source (each one would, with a supernode down). */
const SOURCE_WARNING_MS = 60_000

/** Warns when downloads went to the source although supernodes were named: at once, then at most once a SOURCE_WARNING_MS. */
function sourceWarnings(): (result: DownloadResult) => void {
  let warnedAt = -Infinity
  let since = 0
  return (result) => {
    if (!result.backToSource) return
    since++
    if (Date.now() - warnedAt < SOURCE_WARNING_MS) return
    consola.warn(`${since === 1 ? 'a download' : `${since} downloads`} went to the source: ${result.sourceReason}`)
    warnedAt = Date.now()
    since = 0
  }
}
