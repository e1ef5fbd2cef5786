import { defineCommand } from 'citty'
import { loadDragonflyConfig } from '../../config/index.ts'
import { createError } from '../../core/errors.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import type { SupernodeStatus, TaskDetail, TaskSummary } from '../../core/protocol/supernode-answers.ts'
import { parseSupernodes, repeated } from '../args.ts'
import { formatBytes } from '../format.ts'
import { consola } from '../logger.ts'
import { LOG_FORMAT_ARG } from '../logging.ts'
import { reportError } from '../report-error.ts'
import { pluginHeaders, supernodeApi } from '../supernode-api.ts'
import { formatTable } from '../table.ts'

export default defineCommand({
  meta: { name: 'status', description: "Show a supernode's tasks, peers and cache use" },
  args: {
    supernode: { type: 'string', alias: 's', description: 'Supernode URL (default: the first in the config)' },
    config: { type: 'string', description: 'Config file (default ./dragonfly.config.*)' },
    json: { type: 'boolean', description: 'Print one JSON object' },
    'log-format': LOG_FORMAT_ARG,
  },
  async run({ args, rawArgs }) {
    try {
      const config = await loadDragonflyConfig({ configFile: args.config })
      const base = parseSupernodes(repeated(rawArgs, 's', 'supernode'))[0] ?? config.peer.supernodes[0]
      if (!base) throw createError('E_BAD_ARGUMENT', 'no supernode: pass --supernode URL or set peer.supernodes in the config')
      const headers = pluginHeaders(config)
      const [status, list] = await Promise.all([
        supernodeApi<SupernodeStatus>(base, SUPERNODE_ROUTES.status, { headers }),
        supernodeApi<{ tasks: TaskSummary[] }>(base, SUPERNODE_ROUTES.tasks, { headers }),
      ])
      const tasks = await Promise.all(
        list.tasks.map((t) => supernodeApi<TaskDetail>(base, routePath(SUPERNODE_ROUTES.task, { taskId: t.taskId }), { headers })),
      )
      if (args.json) {
        process.stdout.write(`${JSON.stringify({ supernode: base, ...status, taskCounts: status.tasks, tasks })}\n`)
        return
      }
      const delivered = status.bytesDelivered.supernode + status.bytesDelivered.peers
      const saved = delivered > 0 ? Math.max(0, 1 - status.bytesFromSource / delivered) : 0
      consola.log(
        [
          `supernode ${base}  ${status.ready ? 'ready' : 'NOT READY'}  up ${status.uptimeSeconds} s`,
          `tasks ${status.tasks.total} (${status.tasks.running} running, ${status.tasks.complete} complete, ${status.tasks.failed} failed)   ` +
            `peers ${status.peers} (${status.downloads ?? '?'} downloading, ${status.isolatedPeers} isolated)   cache ${formatBytes(status.cache.bytes)}` +
            (status.cache.storageBytes === null ? '' : ` (${formatBytes(status.cache.storageBytes)} on disk)`),
          `from source ${formatBytes(status.bytesFromSource)}   delivered ${formatBytes(delivered)} ` +
            `(supernode ${formatBytes(status.bytesDelivered.supernode)}, peers ${formatBytes(status.bytesDelivered.peers)})   ` +
            `saved ${(saved * 100).toFixed(1)} %   back-to-source ${status.backToSource}`,
          '',
          formatTable(
            ['TASK', 'URL', 'SIZE', 'CACHED', 'PEERS', 'FROM SOURCE', 'FROM SUPERNODE', 'FROM PEERS', 'STATE'],
            tasks.map((t) => [
              t.taskId.slice(0, 12),
              t.url.length > 60 ? `${t.url.slice(0, 57)}...` : t.url,
              formatBytes(t.contentLength),
              `${t.pieceCount ? Math.floor((t.piecesCached * 100) / t.pieceCount) : 100} %`,
              t.peers.length,
              formatBytes(t.bytesFromSource),
              formatBytes(t.bytesFromSupernode),
              formatBytes(t.bytesFromPeers),
              taskStateText(t),
            ]),
          ),
          '',
          formatTable(
            ['PEER', 'TASK', 'HOST', 'ADDRESS', 'LOCATION', 'PIECES', 'UPLOADED', 'DOWNLOADED', 'STATE'],
            tasks.flatMap((t) =>
              t.peers.map((p) => [
                p.id.slice(0, 8),
                t.taskId.slice(0, 12),
                p.hostname ?? '-',
                p.address,
                p.location ?? '-',
                `${p.pieces}/${t.pieceCount}`,
                formatBytes(p.bytesUploaded),
                formatBytes(p.bytesDownloaded),
                p.isolated ? 'isolated' : p.pieces < t.pieceCount ? 'downloading' : 'seeding',
              ]),
            ),
          ),
        ].join('\n'),
      )
    } catch (error) {
      reportError(error, args.json)
    }
  },
})

/** A task's STATE cell: the source fetch, then the peers still downloading (older supernodes send neither field). */
function taskStateText(t: TaskDetail): string {
  if (t.error) return `failed ${t.error.code}`
  if (!t.complete) return 'fetching'
  const downloading = t.downloading ?? t.peers.filter((p) => p.pieces < t.pieceCount).length
  return downloading > 0 ? `${downloading} downloading` : 'complete'
}
