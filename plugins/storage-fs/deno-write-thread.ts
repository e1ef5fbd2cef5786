/**
 * Direct writes off Deno's event loop. Deno runs node:fs writes on the
 * calling thread: a Deno get spent 0.72 s per GiB in `pwrite64` on its main
 * thread (strace), while the socket reads waited. Node and Bun run them on a
 * thread pool. Deno's own `FsFile` writes run off the main thread, but
 * `Deno.open` cannot ask for O_DIRECT. So on Deno a Web Worker holds its own
 * O_DIRECT descriptor per data file and writes the receiver's shared memory
 * (a SharedArrayBuffer, posted, not copied) in place; the event loop only
 * posts where the bytes are and waits for the answer.
 *
 * A Web Worker takes ~40 ms to start: until it says it is ready, direct
 * writes stay on the event loop, so a small download never waits for it.
 * Like the hash thread, it keeps the process alive: it ends once no write has
 * been waiting for IDLE_MS, or when the last store that may use it closes,
 * and a later write starts another (which opens its files again by path). A
 * thread that goes while writes wait hands them back unwritten (`gone`), and
 * their callers write them on the event loop.
 */

/**
 * What the thread did: bytes written directly, and whether the kernel refused direct I/O (EINVAL). `gone`: the
 * thread stopped or failed before it answered, and the caller writes the bytes itself.
 */
export interface ThreadWrite {
  done: number
  refused: boolean
  gone?: true
}

const WORKER_SOURCE = `
import { closeSync, constants, openSync, writeSync } from 'node:fs'
const ALIGN = 4096
const files = new Map()
const fdOf = (m) => {
  let fd = files.get(m.file)
  if (fd === undefined) files.set(m.file, (fd = openSync(m.path, constants.O_RDWR | constants.O_DIRECT)))
  return fd
}
self.postMessage({ ready: true })
self.onmessage = ({ data: m }) => {
  if (m.close) {
    const fd = files.get(m.file)
    files.delete(m.file)
    if (fd !== undefined) try { closeSync(fd) } catch {}
    self.postMessage({ id: m.id, done: 0 })
    return
  }
  let fd
  try {
    fd = fdOf(m)
  } catch (error) {
    // Not opened: the caller writes through its own descriptor (the page cache), as when its own open fails.
    self.postMessage({ id: m.id, done: 0, openFailed: true, code: error?.code })
    return
  }
  let done = 0
  try {
    const bytes = new Uint8Array(m.memory, m.offset, m.length)
    while (done < m.length) {
      const n = writeSync(fd, bytes, done, m.length - done, m.position + done)
      done += n
      if (n === 0 || n % ALIGN !== 0) break
    }
    self.postMessage({ id: m.id, done })
  } catch (error) {
    self.postMessage({ id: m.id, done, code: error?.code, message: String(error?.message ?? error) })
  }
}
`

const GONE: ThreadWrite = { done: 0, refused: false, gone: true }

/** How long the thread outlives its last write: a lone peer's writes pause while its next pieces arrive. */
const IDLE_MS = 100

interface Reply {
  ready?: true
  id: number
  done: number
  code?: string
  message?: string
  openFailed?: true
}

/** Called with the thread's answer, or with nothing when the thread went before it answered. */
type Waiter = (reply: Reply | undefined) => void

interface DenoGlobal {
  unrefTimer?(id: number): void
}

export class DenoWriteThread {
  private worker: { post(message: unknown): void; stop(): void; ready: boolean } | null = null
  private readonly waiting = new Map<number, Waiter>()
  private nextId = 1
  private nextFile = 1
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  /** Writes the thread has answered since the process started (for tests). */
  written = 0
  /** A thread that failed before it was ready is not started again: the writes stay on the event loop. */
  private broken = false
  /** Stores open that may write here (`openStore`); the last one to close ends the thread. */
  private stores = 0

  /** A name for one open data file; the thread opens it by path on its first write. */
  fileId(): number {
    return this.nextFile++
  }

  /** Whether the thread is up to take writes; starts it when it is not (writes go elsewhere until it is). */
  ready(): boolean {
    if (this.broken) return false
    try {
      return this.start().ready
    } catch {
      // A Worker that cannot be made (a runtime that refuses it): the writes stay on the event loop.
      this.broken = true
      return false
    }
  }

  /** Writes `data` (shared memory, whole aligned blocks) at `position` of the file `path`, on the thread. */
  async write(file: number, path: string, data: Uint8Array, position: number): Promise<ThreadWrite> {
    const reply = await this.send({ file, path, memory: data.buffer, offset: data.byteOffset, length: data.byteLength, position })
    if (!reply) return GONE
    this.written++
    const { done, code, message, openFailed } = reply
    if (code === undefined || code === 'EINVAL' || openFailed) return { done, refused: code === 'EINVAL' }
    throw Object.assign(new Error(message ?? code), { code })
  }

  /**
   * Closes the thread's descriptor of `file`, after the writes posted before; resolves once it is closed, so a
   * store removes or renames the file only after the last write into it landed.
   */
  async close(file: number): Promise<void> {
    if (this.worker) await this.send({ close: true, file })
  }

  /** A store that may write here opened. */
  openStore(): void {
    this.stores++
  }

  /** A store closed: once none is left, the thread ends now if no write is waiting (else after its idle time). */
  closeStore(): void {
    this.stores = Math.max(0, this.stores - 1)
    if (this.stores > 0 || this.waiting.size) return
    clearTimeout(this.idleTimer)
    this.fail(this.worker)
  }

  private start(): NonNullable<DenoWriteThread['worker']> {
    if (this.worker) return this.worker
    const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'application/javascript' }))
    const worker = new Worker(url, { type: 'module' })
    const handle = {
      ready: false,
      post: (message: unknown) => worker.postMessage(message),
      stop: () => {
        worker.terminate()
        URL.revokeObjectURL(url)
      },
    }
    worker.onmessage = (event: MessageEvent<Reply>) => {
      if (!event.data.ready) return this.answer(event.data)
      handle.ready = true
      // Started for a write that went elsewhere meanwhile: it ends if none comes.
      if (!this.waiting.size) this.idleSoon()
    }
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault()
      if (!handle.ready) this.broken = true
      this.fail(handle)
    }
    // A message the thread could not read would leave its write waiting: the thread goes, the writes come back.
    worker.onmessageerror = () => this.fail(handle)
    this.worker = handle
    return handle
  }

  /** Posts a request and waits for its answer; undefined when the thread went first, or the request could not go. */
  private send(message: Record<string, unknown>): Promise<Reply | undefined> {
    const worker = this.start()
    const id = this.nextId++
    clearTimeout(this.idleTimer)
    return new Promise((resolve) => {
      this.waiting.set(id, resolve)
      try {
        worker.post({ id, ...message })
      } catch {
        // Not posted (memory the runtime will not share): the caller does it itself.
        this.waiting.delete(id)
        resolve(undefined)
      }
    })
  }

  private answer(reply: Reply): void {
    const waiter = this.waiting.get(reply.id)
    this.waiting.delete(reply.id)
    waiter?.(reply)
    if (!this.waiting.size) this.idleSoon()
  }

  private idleSoon(): void {
    const worker = this.worker
    clearTimeout(this.idleTimer)
    this.idleTimer = setTimeout(() => {
      if (this.worker === worker && !this.waiting.size) this.fail(worker)
    }, IDLE_MS)
    ;(globalThis as { Deno?: DenoGlobal }).Deno?.unrefTimer?.(this.idleTimer as unknown as number)
  }

  /** Ends the thread; writes still waiting come back unwritten (`gone`), for their callers to write themselves. */
  private fail(worker: DenoWriteThread['worker']): void {
    if (!worker || this.worker !== worker) return
    this.worker = null
    worker.stop()
    for (const waiter of this.waiting.values()) waiter(undefined)
    this.waiting.clear()
  }
}

/** The thread on Deno; undefined elsewhere (Node and Bun write on a thread pool already). */
export const denoWriteThread: DenoWriteThread | undefined = (globalThis as { Deno?: unknown }).Deno ? new DenoWriteThread() : undefined
