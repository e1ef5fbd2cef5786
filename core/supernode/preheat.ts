import { Hono } from 'hono'
import { createError, type DragonflyError, toDragonflyError } from '../errors.ts'
import { PreheatBody, parseBody, RegistryEnvelope } from '../protocol/api-schema.ts'
import { readJson } from '../protocol/http-json.ts'
import { SUPERNODE_ROUTES } from '../protocol/routes.ts'
import type { PreheatState } from '../protocol/supernode-answers.ts'
import { TASK_ID_RE } from '../protocol/task-id.ts'
import type { SourceGuard } from '../source/source-guard.ts'
import type { Cdn } from './cdn/cdn.ts'
import type { CdnTask } from './cdn/cdn-task.ts'
import { MANIFEST_ACCEPT, manifestLayers } from './registry-client.ts'

export interface PreheatRoutesOptions {
  cdn: Cdn
  /** Longest `?wait=` a status request may ask for. @default 30000 */
  maxWaitMs?: number
  /** Errors of background preheats (webhook), for the logs. */
  onError?: (url: string, error: DragonflyError) => void
  /** Hosts the webhook may fetch manifests and tokens from (the CDN's source guard). */
  guard?: SourceGuard
  fetch?: typeof fetch
}

/**
 * Cache warming: a POST to `preheat` starts the CDN's source fetch for a URL
 * (the job id is the task id), a GET of `preheatState?wait=ms` long-polls its
 * progress, and a POST to `registryWebhook` preheats the layers of every
 * manifest a registry reports pushed.
 */
export function createPreheatRoutes(options: PreheatRoutesOptions): Hono {
  const { cdn } = options
  const app = new Hono()
  const doFetch = options.fetch ?? options.guard?.fetch ?? fetch
  const guardedFetch = ((input: string | URL | Request, init?: RequestInit) => {
    options.guard?.(input instanceof Request ? input.url : String(input))
    return doFetch(input, init)
  }) as typeof fetch

  app.post(SUPERNODE_ROUTES.preheat, async (c) => {
    const body = parseBody(PreheatBody, await readJson(c))
    const task = await cdn.ensure(body)
    return c.json(describe(task), 202)
  })

  app.get(SUPERNODE_ROUTES.preheatState, async (c) => {
    const taskId = c.req.param('taskId')
    if (!TASK_ID_RE.test(taskId)) throw createError('E_BAD_REQUEST', 'task id must be 64 lower-case hex characters')
    const task = cdn.get(taskId)
    if (!task) throw createError('E_UNKNOWN_TASK', `no task ${taskId}`)
    const wait = Math.min(Math.max(0, Number(c.req.query('wait') ?? 0) || 0), options.maxWaitMs ?? 30_000)
    const deadline = Date.now() + wait
    while (!task.complete && !task.error && Date.now() < deadline && !c.req.raw.signal.aborted) {
      await task.swarm.waitForChange(deadline - Date.now(), c.req.raw.signal)
    }
    return c.json(describe(task))
  })

  // docker-registry's notification envelope; it retries on non-2xx, so answer as soon as the body is read.
  app.post(SUPERNODE_ROUTES.registryWebhook, async (c) => {
    const envelope = parseBody(RegistryEnvelope, await readJson(c, undefined, /^application\/(vnd\.docker\.distribution\.events\.v1\+)?json\b/i))
    const manifests = envelope.events.filter((e) => e.action === 'push' && e.target.url && MANIFEST_ACCEPT.includes(e.target.mediaType ?? '-'))
    for (const event of manifests) void preheatManifest(event.target.url!)
    return c.json({ accepted: manifests.length })
  })

  const preheatManifest = async (url: string): Promise<void> => {
    try {
      const { layers, authorization } = await manifestLayers(url, { fetch: guardedFetch })
      await Promise.all(
        layers.map((layer) =>
          cdn
            .ensure({ url: layer.url, digest: layer.digest, headers: authorization ? { authorization } : {} })
            .catch((error) => options.onError?.(layer.url, toDragonflyError(error))),
        ),
      )
    } catch (error) {
      options.onError?.(url, toDragonflyError(error))
    }
  }

  return app
}

function describe(task: CdnTask): PreheatState {
  return {
    taskId: task.taskId,
    url: task.url,
    state: task.error ? 'failed' : task.complete ? 'complete' : 'running',
    contentLength: task.layout.contentLength,
    pieceCount: task.layout.pieceCount,
    piecesCached: task.swarm.seed.have.count,
    bytesFromSource: task.bytesFromSource,
    ...(task.error ? { error: task.error.toJSON() } : {}),
  }
}
