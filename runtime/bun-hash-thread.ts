import type { PieceHasher } from '../core/contract/hash.ts'
import { HashThread } from './hash-thread.ts'
import { startWebHashWorker } from './web-hash-worker.ts'

/**
 * The hash thread on Bun (`hash-thread.ts`): a Web Worker, Bun's own thread
 * API, unref'd while no digest is awaited. Without it a Bun get hashed on its
 * event loop, which then ran one core flat while the other sat idle (perf:
 * the get's main thread 47 % of both cores' samples, idle 29 %). A 1 GiB get
 * from a warm Bun supernode, alternating builds on a quiet machine: 1.28-1.29 s
 * without, 1.04-1.14 s with; RSS 96 -> 102-105 MiB (bench/README.md).
 */
export const bunHashThread = new HashThread(startWebHashWorker)

export const createBunPieceHasher = (): PieceHasher => bunHashThread.hasher()
