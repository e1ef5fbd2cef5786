import { Buffer } from 'node:buffer'
import type { PieceHttpResponse } from '../core/contract/piece-get.ts'
import { inPlaceBody, parseResponseHead } from './http-head.ts'
import { IdleConnections, inPlacePieceGet, NotInPlace } from './in-place-piece-get.ts'

/**
 * Piece GETs over Bun's own TCP sockets (`Bun.connect`): each read is
 * copied once, in the socket's data callback, into the receiver's buffer,
 * and the body is handed on as views of it. `fetch`'s body stream cost a Bun
 * peer more CPU than the hashing, and its chunks kept its RSS high until the
 * GC ran. Plain HTTP with a Content-Length that fits the buffer; anything
 * else (HTTPS, chunked, no buffer) goes to `fetch`.
 */

interface BunSocket {
  write(data: Uint8Array): number
  end(): void
  pause(): void
  resume(): void
  ref(): void
  unref(): void
}
interface SocketHandlers {
  data(socket: BunSocket, data: Uint8Array): void
  close(socket: BunSocket): void
  error(socket: BunSocket, error: Error): void
}
declare const Bun: { connect(options: { hostname: string; port: number; socket: SocketHandlers }): Promise<BunSocket> }

/** Body bytes received but not yet taken by the reader before the socket pauses: the reader's pace (`--rate-limit`) reaches TCP. */
const MAX_UNREAD = 1024 * 1024
const idle = new IdleConnections<Connection>()
/** The largest ArrayBuffer a read of Bun's comes in (its sockets read 512 KiB at a time); a larger one is not the read's own. */
const READ_BUFFER_MAX = 1024 * 1024

export const bunPieceGet = inPlacePieceGet<Connection>({
  idle,
  connect: (hostname, port, key) => Connection.open(hostname, port, key),
  exchange: (connection, _key, request, into, signal) =>
    connection.closed ? Promise.reject(new Error('connection closed')) : connection.exchange(request, into, signal),
})

class Connection {
  closed = false
  private socket!: BunSocket
  /** The response being read: its head's bytes until parsed, then its body landing in `into`. */
  private head: Buffer | null = null
  private into: Uint8Array | null = null
  private filled = 0
  private taken = 0
  private length = -1
  private paused = false
  private failure: unknown = null
  private onHead: ((response: PieceHttpResponse) => void) | null = null
  private onFail: ((error: unknown) => void) | null = null
  private wake: (() => void) | null = null
  private keepAlive = true

  private constructor(private readonly key: string) {}

  static async open(hostname: string, port: number, key: string): Promise<Connection> {
    const connection = new Connection(key)
    connection.socket = await Bun.connect({
      hostname,
      port,
      socket: {
        data: (_socket, data) => {
          connection.onData(data)
          releaseRead(data)
        },
        close: () => connection.fail(new Error('piece server closed the connection')),
        error: (_socket, error) => connection.fail(error),
      },
    })
    return connection
  }

  exchange(request: Uint8Array, into: Uint8Array, signal: AbortSignal): Promise<PieceHttpResponse> {
    // A socket that opened after its GET was aborted is closed here (Bun.connect takes no signal): left open, it
    // keeps the process alive for good, as Bun.serve's stop(true) drops a connection that sent nothing unheard.
    if (signal.aborted) {
      this.close()
      return Promise.reject(signal.reason)
    }
    this.socket.ref()
    this.head = Buffer.alloc(0)
    this.into = into
    this.filled = this.taken = 0
    this.length = -1
    const onAbort = (): void => this.close()
    signal.addEventListener('abort', onAbort, { once: true })
    return new Promise<PieceHttpResponse>((resolve, reject) => {
      this.onHead = resolve
      this.onFail = reject
      if (this.socket.write(request) !== request.byteLength) this.fail(new Error('piece request was not sent whole'))
    }).then(
      (response) => {
        this.onFail = null
        response.chunks = this.body(() => signal.removeEventListener('abort', onAbort))
        return response
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        this.close()
        throw signal.aborted ? signal.reason : error
      },
    )
  }

  private onData(data: Uint8Array): void {
    if (this.head) {
      // Usually the whole head comes in the first read, with much of the body: parsed in place, not copied.
      const all = this.head.byteLength ? Buffer.concat([this.head, data]) : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      const parsed = parseResponseHead(all)
      if (parsed === null) return void (this.head = Buffer.from(all))
      if ('error' in parsed) return this.fail(new Error(`piece server: ${parsed.error}`))
      const body = inPlaceBody(parsed, all, this.into!)
      if ('error' in body) return this.fail(new NotInPlace(`piece server ${body.error}`))
      const { head } = parsed
      this.head = null
      this.keepAlive = head.keepAlive
      this.length = body.length
      this.onHead?.({ status: head.status, header: (name) => head.headers.get(name.toLowerCase()) ?? null, chunks: EMPTY, cancel: () => this.close() })
      this.onHead = null
      data = body.early
    }
    if (!this.into || this.filled + data.byteLength > this.length) return this.fail(new Error('piece server sent more than its Content-Length'))
    this.into.set(data, this.filled)
    this.filled += data.byteLength
    if (this.filled - this.taken > MAX_UNREAD && !this.paused) {
      this.paused = true
      this.socket.pause()
    }
    this.wake?.()
  }

  private async *body(settled: () => void): AsyncGenerator<Uint8Array> {
    let complete = false
    try {
      for (;;) {
        if (this.filled > this.taken) {
          const chunk = this.into!.subarray(this.taken, this.filled)
          this.taken = this.filled
          if (this.paused) {
            this.paused = false
            this.socket.resume()
          }
          yield chunk
          continue
        }
        if (this.taken === this.length) break
        if (this.failure) throw this.failure
        await new Promise<void>((resolve) => (this.wake = resolve))
        this.wake = null
      }
      complete = true
    } finally {
      settled()
      this.into = null
      if (complete && this.keepAlive && !this.closed) {
        // A parked socket does not keep the process alive.
        this.socket.unref()
        idle.park(this.key, this, () => this.close())
      } else this.close()
    }
  }

  private fail(error: unknown): void {
    this.failure ??= error
    this.onFail?.(error)
    this.onFail = null
    this.close()
    this.wake?.()
  }

  private close(): void {
    if (this.closed) return
    this.closed = true
    this.socket?.end()
  }
}

const EMPTY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} }

/**
 * Frees a read's memory once its bytes are copied out: Bun hands each read in
 * an ArrayBuffer of its own (up to 512 KiB), which otherwise waits for the
 * GC. Detaching it (`transfer(0)`) frees it at once: a 1 GiB get allocated
 * ~2,300 of them, and they were most of the Bun peer's RSS above Node's.
 */
function releaseRead(data: Uint8Array): void {
  const buffer = data.buffer as ArrayBuffer & { transfer?(length: number): ArrayBuffer }
  // Only memory this read owns alone: a view into a larger or shared buffer is left to the GC.
  if (buffer instanceof ArrayBuffer && buffer.byteLength <= READ_BUFFER_MAX) buffer.transfer?.(0)
}
