import type { Hono } from 'hono'
import { type ClusterStore, parseShared, SharedFailure, SharedTask, sharedError } from '../contract/cluster-store.ts'
import { createError, type DragonflyError } from '../errors.ts'
import type { Cdn } from '../supernode/cdn/cdn.ts'
import type { CdnMeta, CdnTask, TaskCoordinator } from '../supernode/cdn/cdn-task.ts'
import { ClusterDirectory, type ClusterSelf, createDirectoryRoutes, pickSupernodes } from './directory.ts'
import { TaskMirror } from './mirror.ts'
import type { ReplicatorContext } from './replicator.ts'

export interface ClusterOptions extends ReplicatorContext {
  store: ClusterStore
  /** Source lease and announcement lifetime; a dead supernode's work moves on after this. @default 6000 */
  leaseMs?: number
  /** How often task state is mirrored through the store. @default 100 */
  syncIntervalMs?: number
  /** How long a registrant waits for the owner to learn the layout. @default 60000 */
  claimTimeoutMs?: number
  /** Problems that deserve a log line: bad data in the store, a lost lease, a store that does not answer. */
  onProblem?: (message: string, taskId?: string) => void
}

export interface Cluster {
  coordinator: TaskCoordinator
  /** `GET SUPERNODE_ROUTES.supernodes` (the config service). */
  routes: Hono
  /** The supernodes a peer at `location` should use, best first. */
  supernodesFor(location: string | undefined): string[]
  /**
   * Joins once the supernode listens at `self.url`: announces it, then mirrors
   * tasks; `load` is its current load (registered peers). Registrations wait for it.
   */
  start(cdn: Cdn, self: Omit<ClusterSelf, 'id'>, load: () => number): Promise<void>
  close(): Promise<void>
}

/** Failed source answers are shared this long, like the CDN's local failure memory. */
const FAILURE_TTL_MS = 5_000

/** Supernodes of a cluster share task and swarm state through a ClusterStore (Redis). */
export function createCluster(options: ClusterOptions): Cluster {
  const { store } = options
  const leaseMs = options.leaseMs ?? 6_000
  let self: ClusterSelf = { id: '', url: '' }
  let directory = new ClusterDirectory(store, self, leaseMs)
  let joined: () => void
  const ready = new Promise<void>((resolve) => (joined = resolve))
  const owned = new Map<string, number>()
  const mirrors = new Map<string, TaskMirror>()
  const report = (message: string, taskId?: string): void => options.onProblem?.(message, taskId)
  let cdn: Cdn | undefined
  let timers: ReturnType<typeof setInterval>[] = []
  let syncing = false

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
        const mirror = new TaskMirror(task, meta, owner, { ...options, store, self, cdn: cdn!, leaseMs, others: () => directory.others(), report })
        mirrors.set(task.taskId, mirror)
        if (owner || task.complete)
          mirror.publishRecord().catch((error) => report(`cannot publish task ${task.taskId}: ${(error as Error).message}`, task.taskId))
      })
    },
    failed(taskId: string, error: DragonflyError) {
      mirrors.delete(taskId)
      if (!owned.delete(taskId)) return
      const failure = JSON.stringify({ error: { code: error.code, message: error.message } })
      store
        .putTask(taskId, failure, FAILURE_TTL_MS)
        .then(() => store.releaseLease(taskId, self.id))
        .catch((e) => report(`cannot share the failure of task ${taskId}: ${(e as Error).message}`, taskId))
    },
  }

  const tick = async (): Promise<void> => {
    if (syncing || !cdn) return
    syncing = true
    const now = Date.now()
    try {
      // A lease claimed while the source has not answered yet is kept alive until the task opens.
      for (const [taskId, renewed] of owned) {
        if (now - renewed < leaseMs / 3) continue
        owned.set(taskId, now)
        await store.renewLease(taskId, self.id, leaseMs)
      }
      for (const [taskId, mirror] of mirrors) {
        if (cdn.get(taskId) !== mirror.task) {
          mirrors.delete(taskId)
          await mirror.release()
          continue
        }
        await mirror.sync(now).catch((error) => report(`cluster sync of task ${taskId}: ${(error as Error).message}`, taskId))
      }
    } catch (error) {
      report(`cluster store: ${(error as Error).message}`)
    } finally {
      syncing = false
    }
  }

  return {
    coordinator,
    routes: createDirectoryRoutes(() => directory),
    supernodesFor: (location) => pickSupernodes(directory.live, location).map((a) => a.url),
    async start(target, where, load) {
      cdn = target
      self = { ...where, id: await supernodeId(where.url) }
      directory = new ClusterDirectory(store, self, leaseMs)
      await directory.refresh(load())
      joined()
      const announce = (): void => void directory.refresh(load()).catch((error) => report(`cannot announce to the cluster store: ${(error as Error).message}`))
      timers = [setInterval(() => void tick(), options.syncIntervalMs ?? 100), setInterval(announce, Math.max(250, leaseMs / 4))]
      for (const t of timers) (t as { unref?: () => void }).unref?.()
    },
    async close() {
      for (const t of timers) clearInterval(t)
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
