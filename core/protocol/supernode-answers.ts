import type { ErrorJson } from './error-body.ts'

/*
 * What the supernode's admin and observation routes answer (SUPERNODE_ROUTES
 * status, tasks, task, preheat); `dragonfly status` and `dragonfly preheat`
 * read them. The peer API's answers are in api-schema.ts.
 */

export interface SupernodeStatus {
  uptimeSeconds: number
  ready: boolean
  /** `running`: the source fetch runs or a peer is still downloading (see `downloads`). */
  tasks: { total: number; running: number; complete: number; failed: number }
  peers: number
  /** Peers registered here still downloading (holding less than every piece of their task). */
  downloads: number
  isolatedPeers: number
  cache: { bytes: number; storageBytes: number | null }
  bytesFromSource: number
  bytesDelivered: { supernode: number; peers: number }
  backToSource: number
  /** Cluster mode only: whether the store answers, tasks linked to it, and the ones still downloading. */
  cluster?: { storeReachable: boolean; tasks: number; active: number }
}

/** One entry of the task list. */
export interface TaskSummary {
  taskId: string
  url: string
  contentLength: number
  pieceSize: number
  pieceCount: number
  piecesCached: number
  complete: boolean
  digest: string | null
  error: ErrorJson | null
  peers: number
  /** Of them, the ones still downloading. */
  downloading: number
  /** `running` while the source fetch runs or a peer still downloads; `complete` when both are done. */
  state: 'running' | 'complete' | 'failed'
  bytesFromSource: number
  bytesFromSupernode: number
  bytesFromPeers: number
  isolatedPeers: number
}

export interface TaskPeer {
  id: string
  address: string
  location: string | null
  /** The host name the peer reported, if any (not checked: only shown). */
  hostname: string | null
  pieces: number
  /** Holds every piece (seeding). */
  complete: boolean
  isolated: boolean
  uploading: number
  bytesUploaded: number
  bytesDownloaded: number
}

/** One task, with its swarm. */
export interface TaskDetail extends Omit<TaskSummary, 'peers'> {
  peers: TaskPeer[]
}

export interface PreheatState {
  taskId: string
  url: string
  state: 'running' | 'complete' | 'failed'
  contentLength: number
  pieceCount: number
  piecesCached: number
  bytesFromSource: number
  error?: ErrorJson
}
