import { Hono } from 'hono'
import type { PluginSet } from '../contract/plugin.ts'
import type { ServeBindings } from '../contract/serve.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { createError } from '../errors.ts'
import type { Histogram } from '../metrics.ts'
import {
  type AssignmentDto,
  BackToSourceReport,
  LeaveBody,
  PullBody,
  type PullResponse,
  parseBody,
  RegisterBody,
  type RegisterResponse,
  SUPERNODE_ID,
} from '../protocol/api-schema.ts'
import { toErrorResponse } from '../protocol/error-body.ts'
import { readJson } from '../protocol/http-json.ts'
import { PEER_SECRET_HEADER } from '../protocol/peer-secret.ts'
import { pieceRange } from '../protocol/piece-layout.ts'
import { HEALTH_PATH, SUPERNODE_ROUTES } from '../protocol/routes.ts'
import type { TaskDetail, TaskSummary } from '../protocol/supernode-answers.ts'
import { TASK_ID_RE } from '../protocol/task-id.ts'
import { createPieceRoutes } from '../transfer/piece-server.ts'
import { checkRequests } from '../transfer/request-check.ts'
import type { Cdn } from './cdn/cdn.ts'
import { type CdnTask, downloadsOf, shownTo, taskState } from './cdn/cdn-task.ts'
import type { SupernodeEvents } from './events.ts'
import { peerAddress } from './peer-address.ts'
import { PeerSecrets } from './peer-secrets.ts'
import { mountSyncRoute } from './sync-route.ts'

export interface SupernodeAppOptions {
  cdn: Cdn
  storage: StorageDriver
  /** How long a pull with nothing to hand out waits for work. */
  longPollMs: number
  events?: SupernodeEvents
  /** Observes each `swarm.pull`. */
  scheduleDuration?: Histogram
  /** Cluster mode: the supernodes a peer at `location` should use, sent along its registration. */
  supernodesFor?: (location: string | undefined) => string[]
  /** More route groups (dashboard, metrics, preheat), mounted at `/`. */
  routes?: Hono[]
  /** Aborted when the supernode shuts down: registrations are refused and waiting pulls answer E_NOT_READY at once. */
  shutdown?: AbortSignal
  /** Pulls being answered right now (the shutdown waits for them to be written). */
  inflight?: { pulls: number }
  /** Transforms for piece transfer and request-check hooks (auth). */
  plugins?: Pick<PluginSet, 'transforms' | 'hooks'>
  /** Believe the address a peer advertises (NAT, proxies); otherwise its host is the one its registration came from. @default false */
  trustAdvertisedAddress?: boolean
  /** Callers are admins (request checks are configured): task lists show private tasks. @default false */
  admin?: boolean
}

/** Longest a piece map request waits here (the route caps the wait it is asked for below this). */
const MAP_WAIT_MAX_MS = 30_000

/** The supernode's HTTP surface: peer API (SUPERNODE_ROUTES), piece transfer, health. */
export function createSupernodeApp(options: SupernodeAppOptions): Hono {
  const { cdn, storage, longPollMs, events, scheduleDuration } = options
  const app = new Hono()
  app.use(checkRequests(options.plugins?.hooks ?? []))
  const secrets = new PeerSecrets()

  const taskOf = (taskId: string): CdnTask => {
    if (!TASK_ID_RE.test(taskId)) throw createError('E_BAD_REQUEST', 'task id must be 64 lower-case hex characters')
    const task = cdn.get(taskId)
    if (!task) throw createError('E_UNKNOWN_TASK', `no task ${taskId}`)
    return task
  }

  app.get(HEALTH_PATH, (c) => c.json({ ok: true }))

  const stopping = (): boolean => options.shutdown?.aborted === true
  const NOT_READY = 'supernode is shutting down; use another supernode'

  app.post(SUPERNODE_ROUTES.register, async (c) => {
    if (stopping()) throw createError('E_NOT_READY', NOT_READY)
    const body = parseBody(RegisterBody, await readJson(c))
    const task = await cdn.ensure(body)
    if (task.error) throw task.error
    await cdn.access.admit(task, body)
    const peerId = crypto.randomUUID()
    const address = peerAddress(body.peer.address, (c.env as ServeBindings | undefined)?.remoteAddress, options.trustAdvertisedAddress === true)
    const peer = task.swarm.register(peerId, { ...body.peer, address }, Date.now())
    const response: RegisterResponse = {
      taskId: task.taskId,
      peerId,
      contentLength: task.layout.contentLength,
      pieceSize: task.layout.pieceSize,
      pieceCount: task.layout.pieceCount,
      ...(task.digest ? { digest: task.digest } : {}),
      ...(options.supernodesFor ? { supernodes: options.supernodesFor(body.peer.location) } : {}),
      // Private: the capability rides with this peer's piece requests; the key checks other peers' on its piece server.
      ...(task.gate ? { capability: await task.gate.current(peerId), capabilityKey: task.gate.key } : {}),
      address,
      peerSecret: secrets.issue(peer),
    }
    return c.json(response)
  })

  app.post(SUPERNODE_ROUTES.pull, async (c) => {
    const task = taskOf(c.req.param('taskId'))
    const body = parseBody(PullBody, await readJson(c))
    const { swarm } = task
    secrets.speaker(swarm, body.peerId, c.req.raw)
    const deadline = Date.now() + longPollMs
    let results = body.results
    if (options.inflight) options.inflight.pulls++
    try {
      for (;;) {
        // Results are still applied, so the swarm's state is complete when the supernode goes.
        if (stopping()) {
          if (results?.length) swarm.pull(body.peerId, results, 0, Date.now())
          return c.json<PullResponse>({ assignments: [], error: { code: 'E_NOT_READY', message: NOT_READY } })
        }
        if (task.error) return c.json<PullResponse>({ assignments: [], error: task.error.toJSON() })
        const pull = () => swarm.pull(body.peerId, results, body.want, Date.now())
        const assignments = scheduleDuration ? scheduleDuration.time(pull) : pull()
        results = []
        const peer = swarm.peer(body.peerId)
        const now = Date.now()
        if (assignments.length > 0 || !body.wait || peer.have.complete || now >= deadline || c.req.raw.signal.aborted) {
          const dto: AssignmentDto[] = assignments.map((a) => {
            const source = a.from === SUPERNODE_ID ? undefined : swarm.peers.get(a.from)
            return {
              piece: a.piece,
              digest: swarm.digests[a.piece]!,
              size: pieceRange(task.layout, a.piece).length,
              from: a.from,
              ...(source ? { address: source.address } : {}),
              ...(a.endgame ? { endgame: true } : {}),
            }
          })
          return c.json<PullResponse>({
            assignments: dto,
            ...(task.digest ? { digest: task.digest } : {}),
            ...(task.gate ? { capability: await task.gate.current(body.peerId) } : {}),
          })
        }
        await swarm.waitForChange(Math.min(deadline - now, swarm.retryIn(body.peerId, now) ?? Infinity), c.req.raw.signal, options.shutdown)
      }
    } finally {
      if (options.inflight) options.inflight.pulls--
    }
  })

  mountSyncRoute(app, { taskOf, secrets, longPollMs, stopping, shutdown: options.shutdown, inflight: options.inflight, scheduleDuration })

  app.post(SUPERNODE_ROUTES.leave, async (c) => {
    const task = taskOf(c.req.param('taskId'))
    const body = parseBody(LeaveBody, await readJson(c))
    // Leaving twice, or after the supernode forgot the peer, is no error; leaving in another's name is.
    if (task.swarm.peers.has(body.peerId)) task.swarm.leave(secrets.speaker(task.swarm, body.peerId, c.req.raw).id)
    return c.json({ ok: true })
  })

  app.post(SUPERNODE_ROUTES.backToSource, async (c) => {
    const body = parseBody(BackToSourceReport, await readJson(c))
    if (body.taskId === undefined || body.peerId === undefined)
      throw createError('E_UNKNOWN_PEER', `a back-to-source report comes from a peer registered for the task: taskId, peerId and its ${PEER_SECRET_HEADER}`)
    const task = taskOf(body.taskId)
    const peer = secrets.speaker(task.swarm, body.peerId, c.req.raw)
    if (body.bytes > task.layout.contentLength)
      throw createError('E_BAD_REQUEST', `a back-to-source report claims ${body.bytes} bytes of a task of ${task.layout.contentLength}`)
    if (!secrets.wentToSource(peer)) throw createError('E_BAD_REQUEST', `peer ${peer.id} already reported going to the source for this task`)
    // The task's own URL, not the report's: the log line shows what the supernode fetched.
    events?.backToSource?.({ url: task.url, bytes: body.bytes })
    return c.json({ ok: true })
  })

  const admin = options.admin === true
  app.get(SUPERNODE_ROUTES.tasks, (c) =>
    c.json({ tasks: [...cdn.tasks.values()].flatMap((e) => (e.task && shownTo(e.task, admin) ? [describeTask(e.task)] : [])) }),
  )

  app.get(SUPERNODE_ROUTES.task, (c) => {
    const task = taskOf(c.req.param('taskId'))
    if (!shownTo(task, admin)) throw createError('E_UNKNOWN_TASK', `no task ${task.taskId}`)
    return c.json<TaskDetail>({
      ...describeTask(task),
      peers: [...task.swarm.peers.values()].map((p) => ({
        id: p.id,
        address: p.address,
        location: p.location ?? null,
        hostname: p.hostname ?? null,
        pieces: p.have.count,
        complete: p.have.complete,
        isolated: p.isolated,
        uploading: p.uploading,
        bytesUploaded: p.bytesUploaded,
        bytesDownloaded: p.bytesDownloaded,
      })),
    })
  })

  app.route(
    '/',
    createPieceRoutes({
      lookup: (taskId) => {
        const task = cdn.get(taskId)
        return (
          task && {
            layout: task.layout,
            storage,
            has: (n) => task.swarm.seed.have.has(n),
            digest: (n) => task.swarm.digests[n],
            // Its piece map too: in a cluster, peers of another supernode take this one as a parent.
            held: () => task.swarm.seed.have,
            changed: (signal) => task.swarm.waitForChange(MAP_WAIT_MAX_MS, signal),
            limiter: cdn.limits?.up,
            gate: task.gate,
          }
        )
      },
      transforms: options.plugins?.transforms,
    }),
  )

  for (const routes of options.routes ?? []) app.route('/', routes)
  app.notFound(() => toErrorResponse(createError('E_NOT_FOUND', 'no such endpoint')))
  app.onError((error) => toErrorResponse(error))
  return app
}

function describeTask(task: CdnTask): TaskSummary {
  return {
    taskId: task.taskId,
    url: task.url,
    contentLength: task.layout.contentLength,
    pieceSize: task.layout.pieceSize,
    pieceCount: task.layout.pieceCount,
    piecesCached: task.swarm.seed.have.count,
    complete: task.complete,
    digest: task.digest ?? null,
    error: task.error?.toJSON() ?? null,
    peers: task.swarm.peers.size,
    downloading: downloadsOf(task),
    state: taskState(task),
    bytesFromSource: task.bytesFromSource,
    bytesFromSupernode: task.swarm.seed.bytesUploaded,
    // Counted by the swarm as peers report, not summed over the peers still registered: one that left took its share.
    bytesFromPeers: task.swarm.bytesFromPeers,
    isolatedPeers: [...task.swarm.peers.values()].filter((p) => p.isolated).length,
  }
}
