import { Hono } from 'hono'
import type { FetchHandler, ServeBindings } from '../contract/serve.ts'
import { createError } from '../errors.ts'
import { METRICS_CONTENT_TYPE } from '../metrics.ts'
import type { DownloadResult } from '../peer/download-types.ts'
import type { Peer } from '../peer/peer.ts'
import { DaemonDownloadBody, parseBody } from '../protocol/api-schema.ts'
import { toErrorResponse } from '../protocol/error-body.ts'
import { readJson } from '../protocol/http-json.ts'
import { DAEMON_ROUTES, HEALTH_PATH, METRICS_PATH, READY_PATH } from '../protocol/routes.ts'
import { TASK_ID_HEADER, TASK_ID_RE } from '../protocol/task-id.ts'
import { SourceAccess } from '../source/source-access.ts'
import { createSourceGuard, type SourceGuard } from '../source/source-guard.ts'
import { contentResponse, openContentStream } from './content-stream.ts'
import { DownloadFlights, type Flight } from './download-flights.ts'
import { createForwardProxy } from './forward-proxy.ts'
import { createDaemonMetrics, type DaemonMetrics } from './metrics.ts'
import { createRegistryMirror } from './registry-mirror.ts'

export interface DaemonAppOptions {
  /** The host's long-lived peer: its piece server seeds everything in its cache. */
  peer: Peer
  /** Default upstream registry (`--registry-mirror`). */
  registryMirror?: string
  insecureRegistries?: string[]
  /** Absolute-form proxy requests whose URL matches go P2P. */
  proxyRules?: RegExp[]
  /** The port the daemon listens on: a request addressed to it is the daemon's own, any other is proxied. */
  port(): number
  /** `/metrics` renders these; the peer should report what it serves to `metrics.served`. @default new ones */
  metrics?: DaemonMetrics
  /** Where the proxy and the mirror may connect (SSRF guard). @default link-local and metadata refused, the rest allowed */
  guard?: SourceGuard
  /** Called with every download that finished (after the metrics counted it). */
  onDownloaded?(result: DownloadResult): void
}

export interface DaemonApp {
  fetch: FetchHandler
  flights: DownloadFlights
  close(): void
}

/**
 * The daemon's one port: its local API (DAEMON_ROUTES, used by `dragonfly get`),
 * the registry mirror (`/v2/…`) and, for requests addressed to other hosts,
 * the HTTP forward proxy.
 */
export function createDaemonApp(options: DaemonAppOptions): DaemonApp {
  const { peer } = options
  const metrics = options.metrics ?? createDaemonMetrics()
  const guard = options.guard ?? createSourceGuard()
  const access = new SourceAccess(peer.options.plugins, { guard })
  const finished = (result: DownloadResult): void => {
    metrics.downloadFinished(result)
    options.onDownloaded?.(result)
  }
  const flights = new DownloadFlights(peer, { finished, failed: metrics.downloadFailed }, access)
  metrics.bind(peer, flights)
  let closing = false
  const mirror = createRegistryMirror({ peer, flights, mirror: options.registryMirror, insecureRegistries: options.insecureRegistries, guard })
  const proxy = createForwardProxy({ peer, flights, rules: options.proxyRules ?? [], guard })
  const app = new Hono()

  app.get(HEALTH_PATH, (c) => c.json({ ok: true }))
  app.get(READY_PATH, (c) => {
    if (closing || !peer.address) throw createError('E_NOT_READY', closing ? 'daemon is shutting down' : 'daemon is starting')
    return c.json({ ready: true })
  })
  app.get(METRICS_PATH, (c) => c.body(metrics.registry.render(), 200, { 'content-type': METRICS_CONTENT_TYPE }))

  app.get(DAEMON_ROUTES.hello, (c) => c.json({ dragonfly: 'daemon', upload: peer.address, tasks: flights.flights.size }))

  // Downloads into the cache (or joins the running download) and streams the verified content back.
  app.post(DAEMON_ROUTES.download, async (c) => {
    const body = parseBody(DaemonDownloadBody, await readJson(c))
    const flight = await flights.start(body)
    const stream = await openContentStream({ peer, taskId: flight.taskId, done: flight.done, range: c.req.header('range') })
    return contentResponse(stream, 'GET', { [TASK_ID_HEADER]: flight.taskId }, c.env as ServeBindings | undefined)
  })

  // A private task is listed only to callers that proved access to it (download-flights.ts `viewer`).
  app.get(DAEMON_ROUTES.tasks, async (c) => {
    const shown = flights.viewer(c.req.raw)
    const listed = await Promise.all([...flights.flights.values()].map(async (f) => ((await shown(f)) ? [describe(f)] : [])))
    return c.json({ tasks: listed.flat() })
  })
  app.get(DAEMON_ROUTES.task, async (c) => {
    const taskId = c.req.param('taskId')
    if (!TASK_ID_RE.test(taskId)) throw createError('E_BAD_REQUEST', 'task id must be 64 lower-case hex characters')
    const flight = flights.get(taskId)
    if (!flight || !(await flights.viewer(c.req.raw)(flight))) throw createError('E_UNKNOWN_TASK', `no task ${taskId} in this daemon`)
    return c.json(describe(flight))
  })

  app.all('/v2', (c) => mirror(c.req.raw, c.env as ServeBindings | undefined))
  app.all('/v2/*', (c) => mirror(c.req.raw, c.env as ServeBindings | undefined))
  app.notFound(() => toErrorResponse(createError('E_NOT_FOUND', 'no such endpoint')))
  app.onError((error) => toErrorResponse(error))

  return {
    flights,
    fetch: (request, bindings) => {
      const url = new URL(request.url)
      const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port)
      return port === options.port() ? app.fetch(request, bindings) : proxy(request, bindings)
    },
    close: () => {
      closing = true
      flights.close()
    },
  }
}

function describe(flight: Flight) {
  const task = flight.result
  return { taskId: flight.taskId, url: flight.url, state: task ? 'done' : 'running', startedAt: flight.startedAt, ...(task ? { result: task } : {}) }
}
