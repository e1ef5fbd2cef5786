import { open, readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type HeapSummary, readHeapSnapshot, summarize } from './heap-snapshot.ts'

/** Node flags that let `snapshotHeap` measure a process from outside: no route, no code in the process. */
export const heapSnapshotFlags = (dir: string): string[] => ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`]

/**
 * Asks a process started with `heapSnapshotFlags(dir)` for a heap snapshot
 * and waits until it is written. V8 collects all garbage before it walks the
 * heap, so the snapshot's total is what is live.
 */
export async function snapshotHeap(pid: number, dir: string, timeoutMs = 120_000): Promise<string> {
  const before = new Set(await readdir(dir))
  process.kill(pid, 'SIGUSR2')
  const deadline = Date.now() + timeoutMs
  let path: string | undefined
  let size = -1
  while (Date.now() < deadline) {
    await sleep(100)
    path ??= (await readdir(dir)).map((name) => (name.endsWith('.heapsnapshot') && !before.has(name) ? join(dir, name) : undefined)).find(Boolean)
    if (!path) continue
    // The file is written as the walk goes; it is whole when it ends with the strings table's `]}` and stops growing.
    const now = (await stat(path)).size
    if (now === size && now > 0 && (await endsWhole(path))) return path
    size = now
  }
  throw new Error(`no heap snapshot from pid ${pid} within ${timeoutMs} ms`)
}

async function endsWhole(path: string): Promise<boolean> {
  const fh = await open(path, 'r')
  try {
    const { size } = await fh.stat()
    const tail = Buffer.alloc(Math.min(16, size))
    await fh.read(tail, 0, tail.length, size - tail.length)
    return /\]\s*\}\s*$/.test(tail.toString('latin1'))
  } finally {
    await fh.close()
  }
}

/** Snapshot, summary, and the file removed unless `keep`. */
export async function measureHeap(pid: number, dir: string, keep = false): Promise<HeapSummary & { path?: string }> {
  const path = await snapshotHeap(pid, dir)
  const summary = summarize(await readHeapSnapshot(path))
  if (!keep) await rm(path, { force: true })
  return keep ? { ...summary, path } : summary
}
