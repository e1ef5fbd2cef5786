import type { DownloadProgress } from '../core/peer/download-progress.ts'
import { formatBytes, formatBytesShort } from './format.ts'

export interface ProgressDisplay {
  update(progress: DownloadProgress): void
  stop(): void
}

const WIDE = '{bar} {percentage}% | {done} / {size} | {rate}/s | ETA {eta_formatted} | peers {peers} · supernode {supernode} · source {source}'
/** Fits 80 columns with every field at its widest (5-column sizes): the source split is shortened, never cut off. */
const NARROW = '{bar} {percentage}% {done}/{size} {rate}/s ETA {eta_formatted} | peers {peers} sn {supernode} src {source}'
const WIDE_MIN_COLUMNS = 140

/** The bar's layout for a terminal this wide. */
export function progressLayout(columns: number): { format: string; barsize: number; wide: boolean } {
  const wide = columns >= WIDE_MIN_COLUMNS
  return { format: wide ? WIDE : NARROW, barsize: wide ? 24 : 12, wide }
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
  const { format, barsize, wide } = progressLayout(stream.columns ?? 80)
  const size = wide ? formatBytes : formatBytesShort
  const bar = new SingleBar({
    stream,
    format,
    barsize,
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
        done: size(p.completedBytes),
        size: p.totalBytes ? size(p.totalBytes) : '?',
        rate: size(Math.round(p.elapsedMs > 0 ? (p.completedBytes * 1000) / p.elapsedMs : 0)),
        peers: size(p.bytesFromPeers),
        supernode: size(p.bytesFromSupernode),
        source: size(p.bytesFromSource),
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
