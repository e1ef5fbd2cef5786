import type { PieceHasher } from '../core/contract/hash.ts'
import { HASH_THREAD_BODY, HashThread } from './hash-thread.ts'

/**
 * The hash thread on Deno (`hash-thread.ts`): a Web Worker, Deno's own
 * thread API, hashing with `node:crypto` there (`crypto.subtle` has no
 * incremental hash and refuses shared memory). A Web Worker cannot be told
 * not to keep the process alive: it ends once every hash begun has had its
 * digest for IDLE_MS (a finished download), and the next hash starts another.
 * Measured, a Deno get of 1 GiB from a warm Node supernode, alternating
 * builds on a quiet machine: 2.15-2.56 s with sha256 on its event loop,
 * 1.66-2.05 s with this thread; RSS 105 -> 120 MiB (bench/README.md).
 */
const WORKER_SOURCE = `
import { createHash } from 'node:crypto'
const reply = (m) => self.postMessage(m)
${HASH_THREAD_BODY}
self.onmessage = (event) => onMessage(event.data)
`

/** How long the thread outlives its last hash: a lone peer's hashes pause while its next first copies are granted. */
const IDLE_MS = 100
const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno

export const denoHashThread: HashThread = new HashThread(
  ({ reply, fail }) => {
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'application/javascript' }))
    const worker = new Worker(url, { type: 'module' })
    worker.onmessage = (event: MessageEvent<{ id: number; hex: string }>) => reply(event.data.id, event.data.hex)
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault()
      fail(new Error(`hash thread: ${event.message}`))
    }
    return {
      post: (message, transfer) => worker.postMessage(message, transfer ?? []),
      busy: () => {},
      terminate: () => {
        worker.terminate()
        URL.revokeObjectURL(url)
        return undefined
      },
    }
  },
  { stopWhenIdleMs: IDLE_MS, unrefTimer: (timer) => deno?.unrefTimer?.(timer as unknown as number) },
)

export const createDenoPieceHasher = (): PieceHasher => denoHashThread.hasher()
