import { connect, type Socket } from 'node:net'
import type { PieceHttpGet, PieceHttpResponse } from '../core/contract/piece-get.ts'
import { type BodyFraming, parseResponseHead, type ResponseHead, requestHead } from './http-head.ts'
import { SocketPool } from './node-socket-pool.ts'
import { SlowReadRest } from './slow-read-rest.ts'

/**
 * Piece GETs over plain TCP sockets, reading the body straight into the
 * receiver's buffer (`net.connect`'s `onread`): no Buffer per chunk, no copy
 * by the HTTP parser, nothing for the GC. Measured on a 1 GiB download from a
 * warm supernode, node:http spent a third of the peer's CPU copying bodies
 * and collecting the copies. Keep-alive sockets are pooled per host (`node-socket-pool.ts`).
 */

const SCRATCH_BYTES = 64 * 1024
/** Unread body bytes held before the socket pauses: the reader's pace (`--rate-limit`) reaches TCP. */
const MAX_UNREAD = 1024 * 1024
const pool = new SocketPool<Connection>()

export const socketPieceGet: PieceHttpGet = (url, init) => {
  const target = new URL(url)
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1')
  const port = Number(target.port || 80)
  const key = `${host}:${port}`
  const request = requestHead(`${target.pathname}${target.search}`, target.host, init.headers)
  const attempt = (connection: Connection): Promise<PieceHttpResponse> =>
    connection.exchange(request, init.into, init.signal).catch((error: unknown) => {
      // A pooled socket the server closed while it sat idle: ask once more on a new one.
      if (error instanceof StaleConnection && !init.signal.aborted) return attempt(new Connection(host, port, key))
      throw error
    })
  return attempt(pool.take(key) ?? new Connection(host, port, key))
}

class StaleConnection extends Error {}

/** One response being read: its head, then its body as views of `into` (or copies when it does not fit). */
interface Exchange {
  into?: Uint8Array
  resolve(response: PieceHttpResponse): void
  reject(error: unknown): void
  /** The body is complete: stop watching the abort signal. */
  settled(): void
  headBytes: Uint8Array[]
  head?: ResponseHead
  /** Body bytes still to come for length framing; chunk state for chunked. */
  framing?: BodyFraming
  filled: number
  queue: Uint8Array[]
  unread: number
  ended: boolean
  error?: unknown
  wake?: () => void
  received: number
}

class Connection {
  readonly socket: Socket
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES)
  private current: Exchange | null = null
  private used = false
  private reusable = true
  private paused = false
  private readonly rest = new SlowReadRest(() => {
    if (!this.paused && !this.socket.destroyed) this.socket.resume()
  })

  constructor(
    host: string,
    port: number,
    private readonly key: string,
  ) {
    this.socket = connect({ host, port, noDelay: true, onread: { buffer: () => this.nextBuffer(), callback: (n, buf) => this.onRead(n, buf) } })
    this.socket.on('error', (error) => this.fail(error))
    this.socket.on('end', () => this.onEnd())
    this.socket.on('close', () => {
      this.rest.wake()
      this.fail(new Error('connection closed'))
    })
    this.socket.on('timeout', () => this.socket.destroy())
  }

  exchange(request: string, into: Uint8Array | undefined, signal: AbortSignal): Promise<PieceHttpResponse> {
    const reused = this.used
    this.used = true
    this.socket.ref()
    this.socket.setTimeout(0)
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        this.drop()
        return reject(signal.reason)
      }
      const onAbort = (): void => void this.socket.destroy(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)))
      signal.addEventListener('abort', onAbort, { once: true })
      const ex: Exchange = {
        into,
        resolve,
        reject: (error) => {
          signal.removeEventListener('abort', onAbort)
          reject(reused && ex.received === 0 && !signal.aborted ? new StaleConnection(String(error)) : error)
        },
        settled: () => signal.removeEventListener('abort', onAbort),
        headBytes: [],
        filled: 0,
        queue: [],
        unread: 0,
        ended: false,
        received: 0,
      }
      this.current = ex
      this.socket.write(request)
    })
  }

  /** Where the next socket read lands: straight into the receiver's buffer while the body fits there. */
  private nextBuffer(): Uint8Array {
    const ex = this.current
    if (ex?.into && ex.framing?.kind === 'length' && ex.framing.remaining > 0 && ex.filled + ex.framing.remaining <= ex.into.byteLength) {
      return ex.into.subarray(ex.filled, ex.filled + ex.framing.remaining)
    }
    return this.scratch
  }

  private onRead(n: number, buf: Uint8Array): boolean {
    const ex = this.current
    if (!ex || ex.ended) {
      // Bytes nobody asked for: the connection is out of step.
      this.reusable = false
      this.socket.destroy()
      return false
    }
    ex.received += n
    if (buf !== this.scratch) {
      // Already in place in `into`.
      this.deliver(ex, ex.into!.subarray(ex.filled, ex.filled + n), false)
    } else {
      this.feed(ex, this.scratch.subarray(0, n))
    }
    if (ex.unread > MAX_UNREAD && !ex.ended) {
      this.paused = true
      return false
    }
    return ex.ended || ex.framing?.kind !== 'length' || !this.rest.after(n, ex.framing.remaining)
  }

  private feed(ex: Exchange, bytes: Uint8Array): void {
    let rest = bytes
    if (!ex.head) {
      // Usually the whole head is in the first read: parsed in place. The bytes after it (up to a read's worth
      // of body) are copied out of scratch only into the receiver's buffer, not into a temporary one.
      const all = ex.headBytes.length ? Buffer.concat([...ex.headBytes, rest]) : Buffer.from(rest.buffer, rest.byteOffset, rest.byteLength)
      const parsed = parseResponseHead(all)
      if (parsed === null) {
        ex.headBytes = [Buffer.from(all)]
        return
      }
      if ('error' in parsed) return this.protocolError(ex, parsed.error)
      ex.head = parsed.head
      ex.framing = parsed.head.framing
      if (!parsed.head.keepAlive) this.reusable = false
      ex.resolve(this.response(ex))
      rest = all.subarray(parsed.bodyStart)
      if (ex.framing.kind === 'length' && ex.framing.remaining === 0) return this.endBody(ex, rest)
    }
    const framing = ex.framing!
    if (framing.kind === 'length') {
      const take = Math.min(framing.remaining, rest.byteLength)
      if (take > 0) this.deliver(ex, rest.subarray(0, take), true)
      // Bytes past a complete body: the body stands, the connection is out of step.
      if (rest.byteLength > take) this.drop()
    } else if (framing.kind === 'close') {
      if (rest.byteLength) this.deliver(ex, rest, true)
    } else {
      const out: Uint8Array[] = []
      const error = framing.decoder.push(rest, out)
      for (const piece of out) this.deliver(ex, piece, true)
      if (error) return this.protocolError(ex, error)
      if (framing.decoder.done) this.endBody(ex, new Uint8Array(0))
    }
  }

  /** Hands body bytes to the reader; `copy` when they sit in scratch memory that the next read reuses. */
  private deliver(ex: Exchange, bytes: Uint8Array, copy: boolean): void {
    let chunk = bytes
    if (copy) {
      if (ex.into && ex.filled + bytes.byteLength <= ex.into.byteLength) {
        ex.into.set(bytes, ex.filled)
        chunk = ex.into.subarray(ex.filled, ex.filled + bytes.byteLength)
      } else {
        chunk = Uint8Array.prototype.slice.call(bytes)
      }
    }
    ex.filled += chunk.byteLength
    ex.queue.push(chunk)
    ex.unread += chunk.byteLength
    const framing = ex.framing!
    if (framing.kind === 'length') {
      framing.remaining -= chunk.byteLength
      if (framing.remaining === 0) this.endBody(ex, new Uint8Array(0))
    }
    ex.wake?.()
  }

  private endBody(ex: Exchange, extra: Uint8Array): void {
    if (extra.byteLength) this.reusable = false
    if (ex.ended) return
    ex.ended = true
    ex.settled()
    ex.wake?.()
    this.release()
  }

  private drop(): void {
    this.reusable = false
    this.socket.destroy()
  }

  private protocolError(ex: Exchange, message: string): void {
    this.reusable = false
    const error = new Error(`piece server: ${message}`)
    if (!ex.head) ex.reject(error)
    ex.error ??= error
    ex.wake?.()
    this.socket.destroy()
  }

  private onEnd(): void {
    const ex = this.current
    if (ex && !ex.ended && ex.framing?.kind === 'close') return this.endBody(ex, new Uint8Array(0))
    this.socket.destroy()
  }

  private fail(error: unknown): void {
    this.reusable = false
    const ex = this.current
    if (!ex || ex.ended) return
    if (!ex.head) ex.reject(error)
    ex.error ??= error
    ex.wake?.()
  }

  /** Back to the pool once the body is complete (the reader may still be consuming its views). */
  private release(): void {
    this.current = null
    this.rest.reset()
    if (this.paused) {
      this.paused = false
      this.socket.resume()
    }
    if (!this.reusable || this.socket.destroyed) return void this.socket.destroy()
    pool.park(this.key, this)
  }

  private response(ex: Exchange): PieceHttpResponse {
    const head = ex.head!
    const connection = this
    return {
      status: head.status,
      header: (name) => head.headers.get(name.toLowerCase()) ?? null,
      cancel: () => {
        if (!ex.ended) {
          connection.reusable = false
          connection.socket.destroy()
        }
      },
      chunks: {
        async *[Symbol.asyncIterator]() {
          try {
            for (;;) {
              const chunk = ex.queue.shift()
              if (chunk) {
                ex.unread -= chunk.byteLength
                if (connection.paused && ex.unread <= MAX_UNREAD / 2 && connection.current === ex) {
                  connection.paused = false
                  connection.socket.resume()
                }
                yield chunk
                continue
              }
              if (ex.error) throw ex.error
              if (ex.ended) return
              await new Promise<void>((resolve) => (ex.wake = resolve))
              ex.wake = undefined
            }
          } finally {
            if (!ex.ended) {
              connection.reusable = false
              connection.socket.destroy()
            }
          }
        },
      },
    }
  }
}
