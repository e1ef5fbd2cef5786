import { HASH_THREAD_BODY, type StartThread } from './hash-thread.ts'

/** The hash thread's body as a Web Worker module (Bun's and Deno's own thread API). */
const WORKER_SOURCE = `
import { createHash } from 'node:crypto'
const reply = (m) => self.postMessage(m)
${HASH_THREAD_BODY}
self.onmessage = (event) => onMessage(event.data)
`

/** A Web Worker as Bun has it: it can be told not to keep the process alive. */
interface RefWorker extends Worker {
  ref?(): void
  unref?(): void
}

/**
 * Starts the hash thread as a Web Worker. Where the Worker can be unref'd
 * (Bun), it holds the process open only while a digest is awaited, as Node's
 * does; where it cannot (Deno), `HashThread`'s `stopWhenIdleMs` ends it.
 */
export const startWebHashWorker: StartThread = ({ reply, fail }) => {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'application/javascript' }))
  const worker: RefWorker = new Worker(url, { type: 'module' })
  worker.unref?.()
  worker.onmessage = (event: MessageEvent<{ id: number; hex: string }>) => reply(event.data.id, event.data.hex)
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault()
    fail(new Error(`hash thread: ${event.message}`))
  }
  return {
    post: (message, transfer) => worker.postMessage(message, transfer ?? []),
    busy: (busy) => (busy ? worker.ref?.() : worker.unref?.()),
    terminate: () => {
      worker.terminate()
      URL.revokeObjectURL(url)
      return undefined
    },
  }
}
