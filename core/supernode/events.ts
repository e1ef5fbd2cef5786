import type { DragonflyError } from '../errors.ts'
import type { PeerState } from './scheduler/swarm-types.ts'

/** Facts about a task, as events carry them. */
export interface TaskInfo {
  taskId: string
  url: string
  contentLength?: number
}

/**
 * What a supernode reports as it works, for metrics and logs. Core emits,
 * the CLI and the metrics registry listen; every hook is optional.
 */
export interface SupernodeEvents {
  /** A source fetch began (`resumedFrom` > 0 when a partial cache resumes). */
  taskStarted?(task: TaskInfo, resumedFrom: number): void
  /** The task's content is complete in the cache; `cached` when it was already on disk. */
  taskCompleted?(task: TaskInfo & { digest?: string }, cached: boolean): void
  taskFailed?(task: TaskInfo, error: DragonflyError): void
  /** A cache left on disk no longer matched its digests from `piece` on; that part is fetched again. */
  cacheDamaged?(task: TaskInfo, piece: number): void
  /** Bytes read from a source (`task`: whose, when known). */
  sourceBytes?(bytes: number, task?: TaskInfo): void
  /** A peer reported bytes it received from the supernode or from another peer (`task`: whose, when known). */
  pieceDelivered?(from: 'supernode' | 'peer', bytes: number, task?: TaskInfo): void
  peerIsolated?(task: TaskInfo, peer: PeerState): void
  /** A peer reported it fetched a task from the source itself. */
  backToSource?(report: { url: string; bytes: number }): void
  /** The cache went over its quota and these tasks were evicted. */
  cacheCollected?(result: { before: number; after: number; removed: string[] }): void
}

/** One listener that calls each of `listeners` in order. */
export function combineEvents(...listeners: (SupernodeEvents | undefined)[]): SupernodeEvents {
  const all = listeners.filter((l): l is SupernodeEvents => l !== undefined)
  const fan =
    <K extends keyof SupernodeEvents>(key: K) =>
    (...args: Parameters<NonNullable<SupernodeEvents[K]>>): void => {
      for (const l of all) (l[key] as ((...a: typeof args) => void) | undefined)?.(...args)
    }
  return {
    taskStarted: fan('taskStarted'),
    taskCompleted: fan('taskCompleted'),
    taskFailed: fan('taskFailed'),
    cacheDamaged: fan('cacheDamaged'),
    sourceBytes: fan('sourceBytes'),
    pieceDelivered: fan('pieceDelivered'),
    peerIsolated: fan('peerIsolated'),
    backToSource: fan('backToSource'),
    cacheCollected: fan('cacheCollected'),
  }
}
