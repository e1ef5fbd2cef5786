import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defineCommand } from 'citty'
import type { DownloadResult } from '../../core/peer/download-types.ts'
import { createPeer } from '../../core/peer/peer.ts'
import { createSupernode } from '../../core/supernode/supernode.ts'
import { parseIntArg } from '../args.ts'
import { createRoleContext, defined, openStorage, peerRuntime } from '../context.ts'
import { createDemoOrigin } from '../demo-origin.ts'
import { formatBytes } from '../format.ts'
import { consola } from '../logger.ts'
import { LOG_FORMAT_ARG } from '../logging.ts'
import { reportError } from '../report-error.ts'

export default defineCommand({
  meta: { name: 'demo', description: 'Run a local swarm (origin, supernode, N peers) and report where the bytes came from' },
  args: {
    url: { type: 'positional', description: 'Distribute this URL instead of a generated file', required: false },
    peers: { type: 'string', alias: 'n', description: 'Number of peers (default 8)' },
    size: { type: 'string', description: 'Size of the generated file in MiB (default 64)' },
    config: { type: 'string', description: 'Config file (default ./dragonfly.config.*)' },
    json: { type: 'boolean', description: 'Print the report as JSON' },
    'log-format': LOG_FORMAT_ARG,
  },
  async run({ args }) {
    const home = await mkdtemp(join(tmpdir(), 'dragonfly-demo-'))
    const closers: (() => Promise<void>)[] = []
    try {
      const peers = parseIntArg('peers', args.peers, 1, 64) ?? 8
      const size = (parseIntArg('size', args.size, 1, 1024 * 1024) ?? 64) * 1024 * 1024
      const ctx = await createRoleContext(args.config, { ...defined({ home }) })
      const { runtime } = ctx
      let url = args.url
      let origin: ReturnType<typeof createDemoOrigin> | undefined
      if (!url) {
        origin = createDemoOrigin(size)
        // Core needs the source's length, and the stand-in origin streams its body.
        const server = await runtime.serve(origin.app.fetch, { port: 0, hostname: '127.0.0.1', keepStreamLength: true })
        closers.unshift(() => server.close())
        url = `http://127.0.0.1:${server.port}/file.bin`
      }
      const supernode = createSupernode({ plugins: ctx.plugins, storage: openStorage(ctx, 'cdn'), createHash: runtime.createHash })
      const snServer = await runtime.serve(supernode.app.fetch, { port: 0, hostname: '127.0.0.1' })
      closers.unshift(async () => {
        await snServer.close()
        await supernode.close()
      })
      const supernodeUrl = `http://127.0.0.1:${snServer.port}`
      if (!args.json) consola.info(`swarm: origin ${url}, supernode ${supernodeUrl}, ${peers} peers (${runtime.name})`)

      const engines = await Promise.all(
        Array.from({ length: peers }, async (_, i) => {
          const peer = createPeer({
            plugins: ctx.plugins,
            storage: openStorage(ctx, 'peer', join(home, `peer-${i + 1}`)),
            ...peerRuntime(runtime),
            supernodes: [supernodeUrl],
            concurrency: ctx.config.peer.concurrency,
            uploadSlots: ctx.config.peer.uploadSlots,
          })
          await peer.start()
          closers.unshift(() => peer.close())
          return peer
        }),
      )
      const started = Date.now()
      const results: DownloadResult[] = await Promise.all(engines.map((peer) => peer.download({ url: url! })))
      const wall = Date.now() - started
      const digests = new Set(results.map((r) => r.digest))
      const task = supernode.cdn.get(results[0]!.taskId)
      const fileSize = results[0]!.bytes
      const sourceBytes = origin ? origin.stats.bytes : (task?.bytesFromSource ?? 0)
      const sum = (f: (r: DownloadResult) => number): number => results.reduce((a, r) => a + f(r), 0)
      const report = {
        url,
        peers,
        bytes: fileSize,
        wallMs: wall,
        identical: digests.size === 1,
        digest: results[0]!.digest,
        sourceBytes,
        sourceEgressRatio: sourceBytes / fileSize,
        bytesFromPeers: sum((r) => r.bytesFromPeers),
        bytesFromSupernode: sum((r) => r.bytesFromSupernode),
        p2pShare: sum((r) => r.bytesFromPeers) / sum((r) => r.bytes),
        perPeer: results.map((r, i) => ({ peer: i + 1, ms: r.durationMs, bytesFromPeers: r.bytesFromPeers, bytesFromSupernode: r.bytesFromSupernode })),
      }
      if (args.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`)
      } else {
        for (const p of report.perPeer) {
          consola.log(
            `  peer ${String(p.peer).padStart(2)}  ${(p.ms / 1000).toFixed(2).padStart(6)} s   from peers ${formatBytes(p.bytesFromPeers).padStart(10)}   from supernode ${formatBytes(p.bytesFromSupernode).padStart(10)}`,
          )
        }
        consola.success(
          `${peers} peers got ${formatBytes(fileSize)} in ${(wall / 1000).toFixed(2)} s; source sent ${formatBytes(sourceBytes)} (${report.sourceEgressRatio.toFixed(2)}x the file); ` +
            `${(report.p2pShare * 100).toFixed(1)}% of all bytes came from other peers; outputs ${report.identical ? 'identical' : 'DIFFER'} (${report.digest.slice(0, 19)}…)`,
        )
      }
      if (!report.identical) process.exitCode = 1
    } catch (error) {
      reportError(error, args.json)
    } finally {
      for (const close of closers) await close().catch(() => {})
      await rm(home, { recursive: true, force: true })
    }
  },
})
