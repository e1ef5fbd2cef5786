import type { PieceHasher } from '../core/contract/hash.ts'
import { HashThread } from './hash-thread.ts'
import { startWebHashWorker } from './web-hash-worker.ts'

/** How long the thread outlives its last hash: a lone peer's hashes pause while its next first copies are granted. */
const IDLE_MS = 100
const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno

/**
 * The hash thread on Deno (`hash-thread.ts`): a Web Worker, Deno's own
 * thread API, hashing with `node:crypto` there (`crypto.subtle` has no
 * incremental hash and refuses shared memory). A Web Worker cannot be told
 * not to keep the process alive: it ends once every hash begun has had its
 * digest for IDLE_MS (a finished download; `get` ends it at once through
 * `Runtime.release`), and the next hash starts another. Measured, a Deno get
 * of 1 GiB from a warm Node supernode, alternating builds on a quiet machine:
 * 2.15-2.56 s with sha256 on its event loop, 1.66-2.05 s with this thread;
 * RSS 105 -> 120 MiB (bench/README.md).
 */
export const denoHashThread: HashThread = new HashThread(startWebHashWorker, {
  stopWhenIdleMs: IDLE_MS,
  unrefTimer: (timer) => deno?.unrefTimer?.(timer as unknown as number),
})

export const createDenoPieceHasher = (): PieceHasher => denoHashThread.hasher()
