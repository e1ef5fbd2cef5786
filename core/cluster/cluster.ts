import type { Hono } from 'hono'
import { type ClusterStore, parseShared, SharedFailure, SharedTask, sharedError } from '../contract/cluster-store.ts'
import { createError, type DragonflyError } from '../errors.ts'
import type { Cdn } from '../supernode/cdn/cdn.ts'
import type { CdnMeta, CdnTask, TaskCoordinator } from '../supernode/cdn/cdn-task.ts'
import { ClusterDirectory, type ClusterSelf, createDirectoryRoutes, pickSupernodes } from './directory.ts'
import { TaskMirror } from './mirror.ts'
import { ProblemLog } from './problem-log.ts'
import type { ReplicatorContext } from './replicator.ts'

export interface ClusterOptions extends ReplicatorContext {
  store: ClusterStore
  /**
   * Source lease and announcement lifetime: a dead supernode's work moves on
   * after this. Shorter fails over faster but lets a supernode stalled for
   * two thirds of it lose its leases (and a source be read twice). @default 1500
   */
  leaseMs?: number
  /** How often tasks being downloaded push their changes (local check; writes only what changed). @default 100 */
  syncIntervalMs?: number
  /** How long a registrant waits for the owner to learn the layout. @default 60000 */
  claimTimeoutMs?: number
  /** Problems that deserve a log line: bad data in the store, a lost lease, a store that does not answer. Rate-limited. */
  onProblem?: (message: string, taskId?: string) => void
  /** Repeats of one condition are counted and written once per window. @default 10000 */
  problemWindowMs?: number
}

export interface ClusterHealth {
  /** False while the store does not answer: tasks this supernode holds are still served, new ones are refused. */
  storeReachable: boolean
  /** Tasks linked to the cluster, and the ones still downloading (the only ones with periodic work). */
  tasks: number
  active: number
}

export interface Cluster {
  coordinator: TaskCoordinator
  /** `GET SUPERNODE_ROUTES.supernodes` (the config service). */
  routes: Hono
  /** The supernodes a peer at `location` should use, best first. */
  supernodesFor(location: string | undefined): string[]
  health(): ClusterHealth
  /**
   * Joins once the supernode listens at `self.url`: announces it, then mirrors
   * tasks; `load` is its current load (registered peers). Registrations wait for it.
   */
  start(cdn: Cdn, self: Omit<ClusterSelf, 'id'>, load: () => number): Promise<void>
  close(): Promise<void>
}

/** Failed source answers are shared this long, like the CDN's local failure memory. */
const FAILURE_TTL_MS = 5_000
/** Settled tasks are written again this often, well inside the store's 24 h TTL of records. */
const REFRESH_MS = 6 * 3_600_000
/** Tasks written back at once after the store returns. */
const WRITE_BACK_CONCURRENCY = 64

/**
 * Supernodes of a cluster share task and swarm state through a ClusterStore (Redis).
 * Idle costs one heartbeat per supernode: complete tasks are settled and never
 * walked; tasks being downloaded push what changed and read the others' state
 * when told (the store's `notify`), or every leaseMs/6 to see a lapsed lease.
 */
export function createCluster(options: ClusterOptions): Cluster {
  const { store } = options
  const leaseMs = options.leaseMs ?? 1_500
  const heartbeatMs = Math.max(100, leaseMs / 4)
  const pollMs = Math.max(100, leaseMs / 6)
  let self: ClusterSelf = { id: '', url: '' }
  let directory = new ClusterDirectory(store, self, leaseMs)
  let joined: () => void
  const ready = new Promise<void>((resolve) => (joined = resolve))
  const owned = new Map<string, number>()
  const mirrors = new Map<string, TaskMirror>()
  /** Mirrors with work left (downloading here, or not yet published); the tick walks only these. */
  const active = new Map<string, TaskMirror>()
  const told = new Set<string>()
  const problems = new ProblemLog((message, taskId) => options.onProblem?.(message, taskId), options.problemWindowMs)
  const report = (condition: string, message: string, taskId?: string): void => problems.report(condition, message, taskId)
  let cdn: Cdn | undefined
  let timers: ReturnType<typeof setInterval>[] = []
  let syncing = false
  let subscribed = false
  let storeUp = true
  let writingBack: Promise<void> | undefined
  let closed = false

  const storeFailed = (error: unknown): void => {
    report('store', `cluster store does not answer: ${(error as Error).message}`)
    setStoreUp(false)
  }
  const setStoreUp = (up: boolean): void => {
    if (up === storeUp || closed) return
    storeUp = up
    if (!up) return
    problems.flush()
    report('store-back', `cluster store answers again: writing back ${mirrors.size} tasks`)
    writingBack ??= writeBackAll().finally(() => (writingBack = undefined))
  }

  const writeBackAll = async (): Promise<void> => {
    await directory.refresh(load()).catch(storeFailed)
    const queue = [...mirrors.values()]
    const worker = async (): Promise<void> => {
      for (let m = queue.pop(); m && storeUp; m = queue.pop()) await m.writeBack().catch(storeFailed)
    }
    await Promise.all(Array.from({ length: WRITE_BACK_CONCURRENCY }, worker))
    for (const taskId of owned.keys()) await store.acquireLease(taskId, self.id, leaseMs).catch(storeFailed)
  }
  let load: () => number = () => 0

  const coordinator: TaskCoordinator = {
    async claim(taskId) {
      await ready
      const deadline = Date.now() + (options.claimTimeoutMs ?? 60_000)
      for (;;) {
        const raw = await store.getTask(taskId)
        if (raw) return readRecord(raw, taskId)
        if (await store.acquireLease(taskId, self.id, leaseMs)) {
          owned.set(taskId, Date.now())
          return null
        }
        if (Date.now() > deadline) throw createError('E_CLUSTER', `the supernode fetching task ${taskId} did not publish its layout in time`)
        await new Promise((r) => setTimeout(r, 100))
      }
    },
    opened(task: CdnTask, meta: CdnMeta) {
      const owner = owned.delete(task.taskId)
      // A task served from a cache named by its digest may open before the cluster is joined.
      void ready.then(() => {
        const mirror = new TaskMirror(task, meta, owner, {
          ...options,
          store,
          self,
          cdn: cdn!,
          leaseMs,
          others: () => directory.others(),
          departed: () => directory.departed(),
          report,
        })
        mirrors.set(task.taskId, mirror)
        active.set(task.taskId, mirror)
        if (owner || task.complete) mirror.publishRecord().catch(storeFailed)
      })
    },
    failed(taskId: string, error: DragonflyError) {
      mirrors.delete(taskId)
      active.delete(taskId)
      if (!owned.delete(taskId)) return
      const failure = JSON.stringify({ error: { code: error.code, message: error.message } })
      store
        .putTask(taskId, failure, FAILURE_TTL_MS)
        .then(() => store.releaseLease(taskId, self.id))
        .catch(storeFailed)
    },
  }

  const tick = async (): Promise<void> => {
    if (syncing || !cdn || !storeUp || writingBack) return
    syncing = true
    const now = Date.now()
    try {
      for (const [taskId, mirror] of active) {
        if (cdn.get(taskId) !== mirror.task) {
          active.delete(taskId)
          mirrors.delete(taskId)
          await mirror.release()
          continue
        }
        const pull = !subscribed || told.delete(taskId) || now - mirror.pulledAt >= pollMs
        await mirror.sync(now, pull)
        if (mirror.settled) active.delete(taskId)
      }
    } catch (error) {
      storeFailed(error)
    } finally {
      syncing = false
    }
  }

  // Leases are kept by their own timer, so a slow sync pass cannot let one lapse.
  const keepLeases = async (): Promise<void> => {
    if (!storeUp || writingBack) return
    const now = Date.now()
    const renewals: Promise<unknown>[] = []
    for (const [taskId, renewed] of owned) {
      if (now - renewed < leaseMs / 5) continue
      owned.set(taskId, now)
      renewals.push(store.renewLease(taskId, self.id, leaseMs))
    }
    for (const mirror of active.values()) if (mirror.holdsLease) renewals.push(mirror.keepLease())
    await Promise.all(renewals).catch(storeFailed)
  }

  const heartbeat = async (): Promise<void> => {
    const before = new Set(directory.others())
    try {
      await directory.refresh(load())
    } catch (error) {
      return storeFailed(error)
    }
    setStoreUp(true)
    // A supernode gone from the list may have held leases: look at every download now rather than at the next poll.
    const now = new Set(directory.others())
    if ([...before].some((id) => !now.has(id))) for (const taskId of active.keys()) told.add(taskId)
  }

  const refreshSettled = async (): Promise<void> => {
    if (!storeUp) return
    for (const [taskId, mirror] of mirrors) if (!active.has(taskId)) await mirror.writeBack().catch(storeFailed)
  }

  return {
    coordinator,
    routes: createDirectoryRoutes(() => directory),
    supernodesFor: (location) => pickSupernodes(directory.live, location).map((a) => a.url),
    health: () => ({ storeReachable: storeUp, tasks: mirrors.size, active: active.size }),
    async start(target, where, currentLoad) {
      cdn = target
      load = currentLoad
      self = { ...where, id: await supernodeId(where.url) }
      directory = new ClusterDirectory(store, self, leaseMs)
      await directory.refresh(load())
      store.onConnection?.((up) => (up ? void heartbeat() : storeFailed(new Error('connection lost'))))
      if (store.subscribe && store.notify) {
        await store.subscribe((taskId, from) => {
          if (from !== self.id && active.has(taskId)) told.add(taskId)
        })
        subscribed = true
      }
      joined()
      timers = [
        setInterval(() => void tick(), options.syncIntervalMs ?? 100),
        setInterval(() => void keepLeases(), leaseMs / 5),
        setInterval(() => void heartbeat(), heartbeatMs),
        setInterval(() => void refreshSettled(), REFRESH_MS),
      ]
      for (const t of timers) (t as { unref?: () => void }).unref?.()
    },
    async close() {
      closed = true
      for (const t of timers) clearInterval(t)
      problems.flush()
      if (!self.id) return store.close()
      await Promise.allSettled([...mirrors.values()].map((m) => m.release()))
      await Promise.allSettled([...owned.keys()].map((id) => store.releaseLease(id, self.id)))
      await directory.withdraw().catch(() => {})
      await store.close()
    },
  }
}

/** A shared task record: the layout to follow, or the failure the owner met. */
function readRecord(raw: string, taskId: string) {
  try {
    return parseShared(SharedTask, raw, `task record of ${taskId}`)
  } catch (error) {
    const failure = (() => {
      try {
        return parseShared(SharedFailure, raw, `task record of ${taskId}`)
      } catch {
        throw error
      }
    })()
    throw sharedError(failure)
  }
}

/** A stable id per advertised URL: a supernode restarted at the same address gets its leases back. */
async function supernodeId(url: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(url))
  return [...new Uint8Array(digest).subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('')
}
