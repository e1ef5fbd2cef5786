import type { Bitset } from '../protocol/bitset.ts'
import { bytesHeld, type PieceLayout } from '../protocol/piece-layout.ts'

/** A snapshot of one download, as `DownloadRequest.onProgress` receives it. */
export interface DownloadProgress {
  taskId: string
  /** 0 until the size is known. */
  totalBytes: number
  /** Verified bytes held so far (including pieces kept from an earlier run). */
  completedBytes: number
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
  elapsedMs: number
  /** True on the last call, when every piece is verified. */
  done: boolean
}

export type ProgressListener = (progress: DownloadProgress) => void

type SourceTotals = Pick<DownloadProgress, 'bytesFromPeers' | 'bytesFromSupernode' | 'bytesFromSource'>

/** The snapshot for a task held as `held` (null until its layout is known). */
export function progressOf(
  taskId: string,
  held: { layout: PieceLayout; have: Bitset } | undefined,
  stats: SourceTotals,
  startedAt: number,
): DownloadProgress | null {
  if (!held) return null
  return {
    taskId,
    totalBytes: held.layout.contentLength,
    completedBytes: bytesHeld(held.layout, held.have),
    bytesFromPeers: stats.bytesFromPeers,
    bytesFromSupernode: stats.bytesFromSupernode,
    bytesFromSource: stats.bytesFromSource,
    elapsedMs: Date.now() - startedAt,
    done: held.have.complete,
  }
}

/**
 * Calls `listener` at most once per `intervalMs`, with a snapshot taken only
 * then; no timers, so an idle download costs nothing. `flush` always calls.
 */
export function throttleProgress(listener: ProgressListener | undefined, snapshot: () => DownloadProgress | null, intervalMs = 100) {
  let last = 0
  const emit = (): void => {
    const p = snapshot()
    if (!p || !listener) return
    try {
      listener(p)
    } catch {
      // A display must never break the download.
    }
  }
  return {
    tick(): void {
      if (!listener) return
      const now = Date.now()
      if (now - last < intervalMs) return
      last = now
      emit()
    },
    flush: emit,
  }
}

export type ProgressTicker = ReturnType<typeof throttleProgress>
