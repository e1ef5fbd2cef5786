import { defineCommand } from 'citty'
import { loadDragonflyConfig } from '../../config/index.ts'
import { createError } from '../../core/errors.ts'
import { decodeError } from '../../core/protocol/error-body.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import type { PreheatState } from '../../core/protocol/supernode-answers.ts'
import { parseImageRef, resolveImage } from '../../core/supernode/registry-client.ts'
import { parseHeaders, parseIntArg, parseSupernodes, repeated, urlArg } from '../args.ts'
import { formatBytes } from '../format.ts'
import { consola } from '../logger.ts'
import { LOG_FORMAT_ARG } from '../logging.ts'
import { reportError } from '../report-error.ts'
import { pluginHeaders, supernodeApi } from '../supernode-api.ts'

interface PreheatItem {
  url: string
  digest?: string
  headers?: Record<string, string>
}

export default defineCommand({
  meta: { name: 'preheat', description: "Warm a supernode's cache with a URL, or with every layer of an image" },
  args: {
    url: { type: 'positional', description: 'URL to cache (or use --image)', required: false },
    image: { type: 'string', description: 'Image <registry>/<name>:<tag> (or @sha256:…): preheat every layer' },
    platform: { type: 'string', description: 'Platform of a multi-platform image, os/arch[/variant] (default linux/amd64)' },
    supernode: { type: 'string', alias: 's', description: 'Supernode URL (repeat to warm several; default: the config)' },
    header: {
      type: 'string',
      alias: 'H',
      description: "Header for the source, 'Name: value' (repeatable); with --image, Authorization goes to the token service",
    },
    digest: { type: 'string', description: 'Expected content digest of the URL, sha256:<hex>' },
    filter: { type: 'string', description: "Query parameters left out of the task id, 'a&b'" },
    tag: { type: 'string', description: 'Tag that separates otherwise identical URLs' },
    timeout: { type: 'string', description: 'Seconds to wait for the cache to fill (default 3600)' },
    config: { type: 'string', description: 'Config file (default ./dragonfly.config.*)' },
    json: { type: 'boolean', description: 'Print one JSON object when done' },
    'log-format': LOG_FORMAT_ARG,
  },
  async run({ args, rawArgs }) {
    try {
      if (!args.url === !args.image) throw createError('E_BAD_ARGUMENT', 'give either a URL or --image, not both')
      const cli = parseSupernodes(repeated(rawArgs, 's', 'supernode'))
      const config = await loadDragonflyConfig({ configFile: args.config })
      const supernodes = cli.length > 0 ? cli : config.peer.supernodes
      if (supernodes.length === 0) throw createError('E_BAD_ARGUMENT', 'no supernode: pass --supernode URL or set peer.supernodes in the config')
      const headers = parseHeaders(repeated(rawArgs, 'H', 'header'))
      const deadline = Date.now() + (parseIntArg('timeout', args.timeout, 1, 7 * 86_400) ?? 3600) * 1000
      let items: PreheatItem[]
      if (args.image) {
        const image = await resolveImage(parseImageRef(args.image), { platform: args.platform, authorization: headers.authorization })
        if (!args.json) consola.info(`${args.image}: ${image.layers.length} layers (manifest ${image.manifestDigest.slice(0, 19)}…)`)
        items = image.layers.map((l) => ({ url: l.url, digest: l.digest, ...(image.authorization ? { headers: { authorization: image.authorization } } : {}) }))
      } else {
        items = [{ url: urlArg(args.url!), ...(args.digest ? { digest: args.digest } : {}), headers }]
      }
      const admin = pluginHeaders(config)
      const results = await Promise.all(
        supernodes.flatMap((base) => items.map((item) => preheatOne(base, { ...item, filter: args.filter, tag: args.tag }, deadline, admin))),
      )
      const failed = results.find((r) => r.state !== 'complete')
      if (args.json) process.stdout.write(`${JSON.stringify({ ok: !failed, items: results })}\n`)
      else
        for (const r of results)
          if (r.state === 'complete')
            consola.success(`${r.url}: ${formatBytes(r.contentLength)} cached on ${r.supernode} (${formatBytes(r.bytesFromSource)} from source)`)
      if (failed) {
        throw failed.error
          ? decodeError(failed.error, { from: `supernode ${failed.supernode}`, fallback: 'E_DOWNLOAD_FAILED' })
          : createError('E_TIMEOUT', `${failed.url} was still caching when --timeout ran out`)
      }
    } catch (error) {
      reportError(error, args.json)
    }
  },
})

async function preheatOne(
  base: string,
  body: PreheatItem & { filter?: string; tag?: string },
  deadline: number,
  headers: (url: string) => Record<string, string>,
): Promise<PreheatState & { supernode: string }> {
  let state = await supernodeApi<PreheatState>(base, SUPERNODE_ROUTES.preheat, { method: 'POST', body, timeoutMs: 120_000, headers })
  while (state.state === 'running' && Date.now() < deadline) {
    const wait = Math.min(15_000, Math.max(0, deadline - Date.now()))
    state = await supernodeApi<PreheatState>(base, `${routePath(SUPERNODE_ROUTES.preheatState, { taskId: state.taskId })}?wait=${wait}`, {
      timeoutMs: wait + 30_000,
      headers,
    })
  }
  return { ...state, supernode: base }
}
