import type { PieceHasher } from '../core/contract/hash.ts'

/**
 * sha256 of received pieces on another thread, so the peer's event loop only
 * moves bytes. Receive buffers are shared memory (`allocateShared`):
 * `update` posts where the bytes are, not the bytes. The thread is the
 * runtime's own (`node:worker_threads` on Node, a Web Worker on Deno); a
 * `ThreadPort` wraps it.
 *
 * The thread's side, the same in either: a hash keeps a reference to its
 * piece's memory only until its digest is asked for.
 */
export const HASH_THREAD_BODY = `
const open = new Map()
const onMessage = (m) => {
  let state = open.get(m.id)
  if (!state) open.set(m.id, (state = { hash: createHash('sha256'), memory: null }))
  if (m.memory) state.memory = m.memory
  if (m.bytes) state.hash.update(m.bytes)
  else if (m.length) state.hash.update(new Uint8Array(state.memory, m.offset, m.length))
  if (m.digest) {
    open.delete(m.id)
    reply({ id: m.id, hex: state.hash.digest('hex') })
  }
}
`

export interface ThreadMessage {
  id: number
  bytes?: Uint8Array
  memory?: SharedArrayBuffer
  offset?: number
  length?: number
  digest?: true
}

/** A started thread as HashThread drives it. */
export interface ThreadPort {
  post(message: ThreadMessage, transfer?: ArrayBuffer[]): void
  /** Whether the thread keeps the process alive: while a digest is awaited only (where the runtime can say so). */
  busy(busy: boolean): void
  terminate(): Promise<unknown> | undefined
}

export interface HashThreadOptions {
  /**
   * For a thread that cannot be told not to keep the process alive (a Web
   * Worker): it is stopped once every hash begun has had its digest for this
   * long, and the next hash starts another.
   */
  stopWhenIdleMs?: number
  /** Keeps that idle timer from holding the process open (Deno.unrefTimer). */
  unrefTimer?(timer: ReturnType<typeof setTimeout>): void
}

export type StartThread = (events: { reply(id: number, hex: string): void; fail(error: unknown): void }) => ThreadPort

interface Waiter {
  resolve(hex: string): void
  reject(error: unknown): void
}

export class HashThread {
  private port: ThreadPort | null = null
  private readonly waiting = new Map<number, Waiter>()
  private nextId = 1
  /** Hashers begun whose digest was not asked for yet. */
  private open = 0
  private idleTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly startThread: StartThread,
    private readonly options: HashThreadOptions = {},
  ) {}

  hasher(): PieceHasher {
    const id = this.nextId++
    const port = this.start()
    this.open++
    clearTimeout(this.idleTimer)
    let memory: SharedArrayBuffer | null = null
    let finished = false
    return {
      update: (bytes) => {
        const buffer = bytes.buffer
        if (!(buffer instanceof SharedArrayBuffer)) {
          // Plain memory is the caller's to reuse: a copy goes, moved rather than cloned again.
          const copy = bytes.slice()
          return port.post({ id, bytes: copy }, [copy.buffer])
        }
        // The memory travels with the first run of the piece (shared, not copied); later runs name offsets.
        port.post(
          buffer === memory
            ? { id, offset: bytes.byteOffset, length: bytes.byteLength }
            : { id, memory: buffer, offset: bytes.byteOffset, length: bytes.byteLength },
        )
        memory = buffer
      },
      digest: () => {
        if (finished) return Promise.reject(new Error('digest() was already called'))
        finished = true
        this.open--
        // A thread that died since this hash began lost its state: the caller hashes on its own thread.
        if (this.port !== port) return Promise.reject(new Error('hash thread stopped'))
        return new Promise<string>((resolve, reject) => {
          this.waiting.set(id, { resolve, reject })
          port.busy(true)
          port.post({ id, digest: true })
        })
      },
    }
  }

  /** Stops the thread; hashes in progress are rejected, the next hasher starts a new one. */
  async stop(): Promise<void> {
    const port = this.port
    clearTimeout(this.idleTimer)
    await port?.terminate()
    // A thread that says nothing when it ends (a Web Worker): its waiters are told here.
    this.fail(port, new Error('hash thread stopped'))
  }

  private start(): ThreadPort {
    if (this.port) return this.port
    const port: ThreadPort = this.startThread({
      reply: (id, hex) => {
        const waiter = this.waiting.get(id)
        this.waiting.delete(id)
        if (!this.waiting.size) port.busy(false)
        waiter?.resolve(hex)
        const { stopWhenIdleMs, unrefTimer } = this.options
        if (stopWhenIdleMs !== undefined && !this.waiting.size && this.open === 0 && this.port === port) {
          this.idleTimer = setTimeout(() => void this.stop(), stopWhenIdleMs)
          unrefTimer?.(this.idleTimer)
        }
      },
      fail: (error) => this.fail(port, error),
    })
    this.port = port
    return port
  }

  private fail(port: ThreadPort | null, error: unknown): void {
    if (!port || this.port !== port) return
    this.port = null
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}
