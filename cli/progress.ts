import type { DownloadProgress } from '../core/peer/download-progress.ts'
import { formatBytes } from './format.ts'

export interface ProgressDisplay {
  update(progress: DownloadProgress): void
  stop(): void
}

/**
 * The `get` progress bar on stderr (cli-progress): bytes, rate, ETA and where
 * the bytes came from. Only on a terminal, and never with --json or --quiet.
 */
export async function createProgressDisplay(options: { enabled: boolean; stream?: NodeJS.WriteStream }): Promise<ProgressDisplay | undefined> {
  const stream = options.stream ?? process.stderr
  if (!options.enabled || !stream.isTTY) return undefined
  // Loaded only for a terminal: a CommonJS package costs every other start a lexing pass.
  const { SingleBar } = await import('cli-progress')
  const bar = new SingleBar({
    stream,
    format: '{bar} {percentage}% | {done} / {size} | {rate}/s | ETA {eta_formatted} | peers {peers} · supernode {supernode} · source {source}',
    barsize: 24,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    etaBuffer: 20,
    fps: 10,
    autopadding: true,
  })
  let started = false
  return {
    update(p) {
      const payload = {
        done: formatBytes(p.completedBytes),
        size: p.totalBytes ? formatBytes(p.totalBytes) : '?',
        rate: formatBytes(Math.round(p.elapsedMs > 0 ? (p.completedBytes * 1000) / p.elapsedMs : 0)),
        peers: formatBytes(p.bytesFromPeers),
        supernode: formatBytes(p.bytesFromSupernode),
        source: formatBytes(p.bytesFromSource),
      }
      if (!started) {
        bar.start(Math.max(p.totalBytes, 1), p.completedBytes, payload)
        started = true
      } else {
        if (p.totalBytes) bar.setTotal(p.totalBytes)
        bar.update(p.completedBytes, payload)
      }
    },
    stop() {
      if (started) bar.stop()
      started = false
    },
  }
}
