import { defineCommand } from 'citty'
import { createSupernode } from '../../core/supernode/supernode.ts'
import { parseIntArg, rateArg } from '../args.ts'
import { advertiseUrl, connectCluster } from '../cluster.ts'
import { createRoleContext, defined, openStorage } from '../context.ts'
import { formatBytes } from '../format.ts'
import { listenError } from '../listen-error.ts'
import { consola } from '../logger.ts'
import { LOG_FORMAT_ARG, logEvent } from '../logging.ts'
import { reportError } from '../report-error.ts'

export default defineCommand({
  meta: { name: 'supernode', description: 'Run a supernode: tracker, scheduler and passive CDN of the swarm' },
  args: {
    port: { type: 'string', alias: 'p', description: 'Port (0 picks a free one; default 8002)' },
    host: { type: 'string', description: 'Interface to listen on (default 0.0.0.0)' },
    home: { type: 'string', description: 'Cache directory (default ~/.dragonfly)' },
    config: { type: 'string', description: 'Config file (default ./dragonfly.config.*)' },
    'total-limit': { type: 'string', description: "Bytes/s read from sources, and served to peers, across all tasks ('100MB'; 0 = no limit)" },
    cluster: { type: 'string', description: 'Share tasks and swarms with other supernodes through this store, e.g. redis://127.0.0.1:6379 (docs/cluster.md)' },
    location: { type: 'string', description: "This supernode's location, 'region|zone|rack' (peers are sent to the nearest)" },
    advertise: { type: 'string', description: 'URL peers and other supernodes reach this one at (default http://<host>:<port>)' },
    'trust-advertised-address': {
      type: 'boolean',
      description: 'Believe the piece server address peers advertise (NAT, proxies); default: the host their registration came from',
    },
    'log-format': LOG_FORMAT_ARG,
  },
  async run({ args }) {
    try {
      const ctx = await createRoleContext(args.config, {
        ...defined({ home: args.home }),
        supernode: defined({
          port: parseIntArg('port', args.port, 0, 65535),
          host: args.host,
          totalLimit: rateArg('total-limit', args['total-limit']),
          cluster: args.cluster,
          location: args.location,
          advertiseUrl: args.advertise,
          trustAdvertisedAddress: args['trust-advertised-address'],
        }),
      })
      const { supernode: cfg } = ctx.config
      const store = cfg.cluster ? await connectCluster(ctx.plugins, cfg.cluster) : undefined
      const supernode = createSupernode({
        ...(store
          ? {
              cluster: {
                store,
                leaseMs: cfg.clusterLeaseMs,
                onProblem: (message: string, taskId?: string) => logEvent('warn', `cluster: ${message}`, taskId ? { taskId } : {}),
              },
            }
          : {}),
        plugins: ctx.plugins,
        storage: openStorage(ctx, 'cdn'),
        createHash: ctx.runtime.createHash,
        longPollMs: cfg.longPollMs,
        swarm: { supernodeSlots: cfg.uploadSlots, peerSlots: cfg.peerSlots, pieceTimeoutMs: cfg.pieceTimeoutMs },
        sources: { allow: cfg.allowSources, deny: cfg.denySources, connect: ctx.runtime.guardedFetch },
        totalLimit: cfg.totalLimit,
        trustAdvertisedAddress: cfg.trustAdvertisedAddress,
        cache: { quotaBytes: cfg.cacheQuota, highWatermark: cfg.highWatermark, lowWatermark: cfg.lowWatermark },
        events: {
          taskStarted: (t, from) =>
            logEvent('info', 'task started', { taskId: t.taskId, url: t.url, bytes: t.contentLength, ...(from > 0 ? { resumedFrom: from } : {}) }),
          taskCompleted: (t, cached) =>
            logEvent('success', cached ? 'task loaded from cache' : 'task complete', {
              taskId: t.taskId,
              url: t.url,
              bytes: t.contentLength,
              size: formatBytes(t.contentLength ?? 0),
              digest: t.digest,
            }),
          taskFailed: (t, error) =>
            logEvent('error', 'task failed', { ...(t.taskId ? { taskId: t.taskId } : {}), url: t.url, code: error.code, error: error.message }),
          cacheDamaged: (t, piece) =>
            logEvent('warn', 'cached pieces failed their digests; fetching them again', { taskId: t.taskId, url: t.url, fromPiece: piece }),
          peerIsolated: (t, peer) => logEvent('warn', 'peer isolated', { taskId: t.taskId, peerId: peer.id, address: peer.address, location: peer.location }),
          backToSource: (r) => logEvent('info', 'peer went back to source', { url: r.url, bytes: r.bytes }),
          cacheCollected: (r) =>
            logEvent('info', 'cache over quota: tasks evicted', { evicted: r.removed.length, before: r.before, after: r.after, taskIds: r.removed }),
        },
      })
      const server = await ctx.runtime.serve(supernode.app.fetch, { port: cfg.port, hostname: cfg.host }).catch(async (error: unknown) => {
        await supernode.close().catch(() => {})
        throw listenError(error, { port: '--port', host: '--host' }, `${cfg.host}:${cfg.port}`)
      })
      if (store) {
        const url = advertiseUrl(cfg.advertiseUrl, cfg.host, server.port)
        await supernode.join({ url, ...(cfg.location ? { location: cfg.location } : {}) })
        consola.info(
          `supernode joined the cluster at ${cfg.cluster.replace(/\/\/[^@/]*@/, '//***@')} as ${url}${cfg.location ? ` (location ${cfg.location})` : ''}`,
        )
      }
      consola.info(
        `supernode listening on http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${server.port} (home ${ctx.config.home}, ${ctx.runtime.name})`,
      )
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      consola.info('supernode shutting down')
      const { toldPeers } = await supernode.close()
      await server.close()
      logEvent('info', 'supernode stopped', { toldPeers })
    } catch (error) {
      reportError(error)
    }
  },
})
