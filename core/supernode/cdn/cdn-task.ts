import type { SharedTask } from '../../contract/cluster-store.ts'
import type { DragonflyError } from '../../errors.ts'
import type { PieceLayout } from '../../protocol/piece-layout.ts'
import type { TaskIdentity } from '../../protocol/task-id.ts'
import type { CapabilityGate } from '../../transfer/capability.ts'
import type { Swarm } from '../scheduler/swarm.ts'

/* The CDN's task shapes, shared by the CDN, its ingest, the cluster mirror and the HTTP routes. */

/** What the CDN keeps on disk beside a task's bytes. */
export interface CdnMeta {
  url: string
  contentLength: number
  pieceSize: number
  /** Piece digests, in order, for the pieces stored so far. */
  digests: string[]
  complete: boolean
  /** `sha256:<hex>` of the whole content, once complete. */
  digest?: string
  etag?: string
  lastModified?: string
  /** Fetched with credentials: registrants must prove theirs (SourceAccess). */
  private?: boolean
  /** A private task's capability key (core/transfer/capability.ts), kept so a restart honours the capabilities it issued. */
  capabilityKey?: string
  updatedAt: number
}

export interface CdnTask {
  taskId: string
  url: string
  layout: PieceLayout
  swarm: Swarm
  /** Set when the source fetch failed; pullers get it. */
  error?: DragonflyError
  complete: boolean
  digest?: string
  bytesFromSource: number
  createdAt: number
  lastUsed: number
  /** Hash of the credentials the source accepted; '' public, '*' private (cached, nobody checked yet). */
  credential: string
  /** A private task's capabilities: issued to admitted peers, checked by the piece routes. */
  gate?: CapabilityGate
  /** The request that opened it: a cluster takeover fetches the source with it. */
  request?: TaskRequest
}

/**
 * Where a task stands for the people watching (status, dashboard, metrics):
 * running while its source fetch runs or a peer registered here is still
 * downloading it, so a task the cache already holds whole is not counted
 * done while its peers are still at work.
 */
export function taskState(task: Pick<CdnTask, 'error' | 'complete' | 'swarm'>): 'running' | 'complete' | 'failed' {
  if (task.error) return 'failed'
  return task.complete && downloadsOf(task) === 0 ? 'complete' : 'running'
}

/** The task's peers still downloading, as people are shown them: isolated peers are listed apart. */
export function downloadsOf(task: Pick<CdnTask, 'swarm'>): number {
  return task.swarm.downloading({ isolated: false })
}

/**
 * Cluster mode (core/cluster/cluster.ts): decides which supernode fetches a task's
 * source, and hears about every task opened here.
 */
export interface TaskCoordinator {
  /** null when this supernode fetches the source (it holds the lease); else the owner's layout to follow. */
  claim(taskId: string): Promise<SharedTask | null>
  /** A task is open here; `meta` is its cache record (kept up to date by whoever stores pieces). */
  opened(task: CdnTask, meta: CdnMeta): void
  /** Opening failed (the source's answer, when this supernode owned the fetch). */
  failed(taskId: string, error: DragonflyError): void
}

export interface TaskRequest extends Omit<TaskIdentity, 'filter'> {
  filter?: string | string[]
  headers?: Record<string, string>
}

/**
 * Whether a caller may learn that this task exists (its id and URL): anyone
 * for a public task; for a private one only an admin (whoever passed the
 * request checks, i.e. holds the auth-header token, when one is configured).
 */
export function shownTo(task: CdnTask, admin: boolean): boolean {
  return admin || task.gate === undefined
}
