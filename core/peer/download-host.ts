import type { CreateHash, CreatePieceHasher } from '../contract/hash.ts'
import type { PieceHttpGet } from '../contract/piece-get.ts'
import type { PluginSet } from '../contract/plugin.ts'
import type { StorageDriver } from '../contract/storage.ts'
import type { PieceLayout } from '../protocol/piece-layout.ts'
import type { SourceGuard } from '../source/source-guard.ts'
import type { Limits } from '../transfer/rate-limit.ts'
import type { PeerOptionValues } from './peer-options.ts'
import type { LocalTask, TaskAccess } from './peer-tasks.ts'
import type { SupernodeClient } from './supernode-client.ts'

/** The peer's settings a download reads (a subset of its options, defaults filled: peer-options.ts). */
export interface DownloadSettings extends Pick<PeerOptionValues, 'pieceTimeoutMs' | 'concurrency'> {
  plugins: PluginSet
  storage: StorageDriver
  createHash: CreateHash
  createPieceHasher?: CreatePieceHasher
  allocate?: (bytes: number) => Uint8Array
  pieceGet?: PieceHttpGet
  /** The transport of small JSON requests (supernode API, parents' piece maps). @default fetch */
  apiFetch?: typeof fetch
  sourceGuard?: SourceGuard
}

/**
 * What the download loops (swarm and back-to-source) need of the peer that
 * runs them, and nothing more: the peer engine implements it, tests can fake it.
 */
export interface DownloadHost {
  readonly options: DownloadSettings
  readonly client: Pick<SupernodeClient, 'pull' | 'sync'>
  /** Wakes readers of a download in progress (layout known, piece verified). */
  readonly progress: { notify(taskId: string): void }
  /** The rate limits a task's transfers run under. */
  limitsOf(taskId: string): Limits
  /** Bytes/s a task's downloads are held to, or 0 when unlimited. */
  downloadRate(taskId: string): number
  /** Headers the plugins add to a request to `url`. */
  outgoingHeaders(url: string): Record<string, string>
  /** The peer is now a member of the task's swarm at `base` (kept alive by its heartbeat, which speaks with `secret`). */
  joined(taskId: string, base: string, peerId: string, secret?: string): void
  /** Registers a task's layout, keeping a previous run's verified pieces when the layout agrees; `access` says who may have its pieces. */
  adopt(taskId: string, layout: PieceLayout, previous?: LocalTask, access?: TaskAccess): LocalTask
  /** Saves which pieces are verified, so an interrupted download resumes. */
  persist(taskId: string, url: string): Promise<void>
}
