import type { ProgressListener } from './download-progress.ts'

/** What `Peer.download` is asked for and what it answers (also the daemon's and `get --json`'s shape). */

export interface DownloadRequest {
  url: string
  headers?: Record<string, string>
  digest?: string
  filter?: string | string[]
  tag?: string
  signal?: AbortSignal
  /** Bytes/s for this task (download and upload each); overrides the peer's `rateLimit`. */
  rateLimit?: number
  /** Called with a snapshot at most every `progressIntervalMs` while pieces arrive, and once at the end. */
  onProgress?: ProgressListener
  /** @default 100 */
  progressIntervalMs?: number
}

export interface DownloadStats {
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
  wireBytes: number
  piecesFromPeers: number
  piecesFromSupernode: number
}

export interface DownloadResult extends DownloadStats {
  taskId: string
  /** Key of the content in the peer's storage. */
  storageKey: string
  bytes: number
  pieces: number
  durationMs: number
  digest: string
  /** The supernode that scheduled it, or null after going back to source. */
  supernode: string | null
  backToSource: boolean
  /** Set when `backToSource`: why no supernode served it (the supernodes tried and the last error, or none configured). */
  sourceReason?: string
}
