import { defineCommand } from 'citty'
import { createError } from '../../core/errors.ts'
import type { Peer } from '../../core/peer/peer.ts'
import { parseHeaders, parseIntArg, parseSupernodes, rateArg, repeated, urlArg } from '../args.ts'
import { createConfiguredPeer, createRoleContext, defined } from '../context.ts'
import { downloadViaDaemon, findDaemon } from '../daemon-handoff.ts'
import { exportFile } from '../export-file.ts'
import { formatBytes } from '../format.ts'
import { consola } from '../logger.ts'
import { LOG_FORMAT_ARG } from '../logging.ts'
import { resolveOutputTarget, streamFromStorage } from '../output-target.ts'
import { createProgressDisplay } from '../progress.ts'
import { reportError } from '../report-error.ts'

export default defineCommand({
  meta: { name: 'get', description: 'Download a URL through the swarm (wget-like), verifying every piece' },
  args: {
    url: { type: 'positional', description: 'URL to download', required: true },
    output: {
      type: 'string',
      alias: ['o', 'O'],
      valueHint: 'file',
      description: "Output file; '-' for stdout; a FIFO or character device is written into (default: the URL's file name, as wget)",
    },
    supernode: { type: 'string', alias: 's', description: 'Supernode URL (repeat for failover)' },
    header: { type: 'string', alias: 'H', description: "Header for the source, 'Name: value' (repeatable)" },
    digest: { type: 'string', description: 'Expected content digest, sha256:<hex>' },
    filter: { type: 'string', description: "Query parameters left out of the task id, 'a&b'" },
    tag: { type: 'string', description: 'Tag that separates otherwise identical URLs' },
    home: { type: 'string', description: 'Data directory (default ~/.dragonfly)' },
    config: { type: 'string', description: 'Config file (default ./dragonfly.config.*)' },
    location: { type: 'string', description: "This host's location, 'region|zone|rack'" },
    concurrency: { type: 'string', description: 'Pieces fetched in parallel' },
    'rate-limit': { type: 'string', description: "Bytes/s this download may receive, and serve to peers ('20MB', '512KB'; 0 = no limit)" },
    'total-limit': { type: 'string', description: 'Bytes/s for everything this host transfers, across downloads (same units)' },
    'back-source': {
      type: 'boolean',
      default: true,
      description: 'Go to the source when no supernode answers',
      negativeDescription: 'Fail instead of going to the source',
    },
    daemon: {
      type: 'string',
      description: "Hand the download to this daemon (default: the one in --home's daemon.json, else 127.0.0.1:65001 if it answers; 'off' to never)",
    },
    json: { type: 'boolean', description: 'Print one JSON object when done' },
    quiet: { type: 'boolean', alias: 'q', description: 'No progress bar and no success line; errors only' },
    'log-format': LOG_FORMAT_ARG,
  },
  async run({ args, rawArgs }) {
    const abort = new AbortController()
    const onSignal = (): void => abort.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    let peer: Peer | undefined
    let release: (() => Promise<void>) | undefined
    // With `-o -` stdout carries the file: the JSON line and errors go to stderr then.
    const report = args.output === '-' ? process.stderr : process.stdout
    if (args.output === '-') consola.options.stdout = process.stderr
    const bar = await createProgressDisplay({ enabled: !args.json && !args.quiet })
    try {
      const url = urlArg(args.url)
      const target = await resolveOutputTarget(args.output, url)
      const output = target.kind === 'file' ? target.path : target.label
      const headers = parseHeaders(repeated(rawArgs, 'H', 'header'))
      const cliSupernodes = parseSupernodes(repeated(rawArgs, 's', 'supernode'))
      const ctx = await createRoleContext(args.config, {
        ...defined({ home: args.home }),
        peer: defined({
          location: args.location,
          concurrency: parseIntArg('concurrency', args.concurrency, 1, 256),
          backSource: args['back-source'] === false ? false : undefined,
          rateLimit: rateArg('rate-limit', args['rate-limit']),
          totalLimit: rateArg('total-limit', args['total-limit']),
        }),
      })
      const daemonArg = args.daemon as string | boolean | undefined
      const daemon =
        daemonArg === false || daemonArg === 'off'
          ? null
          : await findDaemon(typeof daemonArg === 'string' ? daemonArg : undefined, ctx.config.home, ctx.runtime.apiFetch)
      if (daemon) {
        const { rateLimit } = ctx.config.peer
        const request = { url, headers, digest: args.digest, filter: args.filter, tag: args.tag, ...(rateLimit ? { rateLimit } : {}) }
        const result = await downloadViaDaemon(daemon, request, target, abort.signal)
        if (args.json) report.write(`${JSON.stringify({ output, ...result })}\n`)
        else if (!args.quiet)
          consola.success(`${output}: ${formatBytes(result.bytes)} in ${(result.durationMs / 1000).toFixed(2)} s (through daemon ${daemon})`)
        return
      }
      const supernodes = cliSupernodes.length > 0 ? cliSupernodes : ctx.config.peer.supernodes
      peer = createConfiguredPeer(ctx, supernodes)
      release = ctx.runtime.release
      const storage = peer.options.storage
      if (supernodes.length > 0) await peer.start()
      const result = await peer.download({
        url,
        headers,
        digest: args.digest,
        filter: args.filter,
        tag: args.tag,
        signal: abort.signal,
        onProgress: bar?.update,
      })
      bar?.stop()
      await peer.leave(result.taskId)
      if (target.kind === 'file') await exportFile(storage, result.storageKey, target.path)
      else await streamFromStorage(storage, result.storageKey, target)
      peer.tasks.delete(result.taskId)
      if (args.json) {
        report.write(`${JSON.stringify({ output, ...result })}\n`)
      } else if (!args.quiet) {
        // Named supernodes that did not serve it: the user asked for the swarm and got the origin.
        if (result.backToSource && supernodes.length > 0) consola.warn(`went to the source: ${result.sourceReason}`)
        const from = `${formatBytes(result.bytesFromPeers)} from peers, ${formatBytes(result.bytesFromSupernode)} from supernode, ${formatBytes(result.bytesFromSource)} from source`
        consola.success(`${output}: ${formatBytes(result.bytes)} in ${(result.durationMs / 1000).toFixed(2)} s (${from})`)
      }
    } catch (error) {
      bar?.stop()
      reportError(
        abort.signal.aborted ? createError('E_ABORTED', 'interrupted; verified pieces are kept for the next run', { cause: error }) : error,
        args.json,
        report,
      )
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      await peer?.close()
      await release?.()
    }
  },
})
