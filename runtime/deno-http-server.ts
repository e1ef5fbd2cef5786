import { Buffer } from 'node:buffer'
import type { FetchHandler, ServeFn, ServeOptions } from '../core/contract/serve.ts'
import { createError, type ErrorCode } from '../core/errors.ts'
import { denoTunnel } from './deno-connect.ts'
import { type DenoConn, type LentAnswer, writeBody, writeLent } from './deno-response-writer.ts'
import { MAX_REQUEST_HEAD_BYTES, parseRequestHead, type RequestHead, refuseEarly } from './http-request-head.ts'

/**
 * The Deno adapter's HTTP/1.1 server, on Deno's own TCP API (`Deno.listen`)
 * rather than `Deno.serve`. Deno.serve copies every body chunk into Rust and
 * pumps a file's stream 64 KiB at a time through a thread hand-off each; a
 * server writing with `conn.write` sends a piece from 1 MiB reads with no
 * copy. Measured, 256 pieces of 4 MiB from one file to curl on one kept-alive
 * connection: 1.33 CPU s and 1.6 s with Deno.serve and the file's stream,
 * 0.64-0.75 CPU s and 0.7-0.8 s this way (bench/README.md, "Runtimes").
 *
 * What it serves: keep-alive and pipelined requests one after another per
 * connection, bodies framed by Content-Length or chunked (and
 * `Expect: 100-continue`), responses with their Content-Length or chunked.
 * A head over 16 KiB, a malformed or ambiguous one, or a head not complete
 * 60 s after its first byte is refused and the connection closed; a
 * connection idle 65 s between requests is closed (Node's timeouts as the
 * Node adapter sets them). A request's signal aborts when its connection
 * closes. CONNECT is tunnelled where the port asks for it (`deno-connect.ts`),
 * else refused with 501.
 */

interface DenoListener {
  readonly addr: { port: number }
  accept(): Promise<DenoConn>
  close(): void
}
declare const Deno: { listen(options: { hostname: string; port: number }): DenoListener }

const IDLE_MS = 65_000
const HEAD_MS = 60_000
const READ_BYTES = 64 * 1024
/** Bytes of later requests held while one is answered. */
const MAX_HELD = 256 * 1024

export const denoHttpServe: ServeFn = async (fetch, options) => {
  // Binds before it returns: a taken port throws here.
  const listener = Deno.listen({ hostname: options.hostname, port: options.port })
  const open = new Set<Connection>()
  let closing = false
  const accepting = (async () => {
    while (!closing) {
      const conn = await listener.accept().catch(async () => {
        // Out of descriptors or the like: try again shortly, unless the listener was closed.
        if (!closing) await new Promise((done) => setTimeout(done, 50))
        return undefined
      })
      if (!conn || closing) {
        conn?.close()
        continue
      }
      const connection = new Connection(conn, fetch, options, listener.addr.port)
      open.add(connection)
      void connection.run().finally(() => open.delete(connection))
    }
  })()
  return {
    port: listener.addr.port,
    close: async () => {
      closing = true
      listener.close()
      for (const connection of open) connection.close()
      await accepting
    },
  }
}

/** One client connection: requests are read and answered one at a time. */
class Connection {
  private buffer: Buffer = Buffer.allocUnsafe(READ_BYTES)
  private start = 0
  private end = 0
  private closed = false
  private timer: ReturnType<typeof setTimeout> | undefined
  /** The request being answered: aborted when the connection goes. */
  private current: AbortController | undefined
  /** The read in flight (one at a time): begun by the head's parser, a body, or the watch for a client leaving. */
  private reading: Promise<boolean> | undefined

  constructor(
    private readonly conn: DenoConn,
    private readonly fetch: FetchHandler,
    private readonly options: ServeOptions,
    private readonly port: number,
  ) {
    try {
      conn.setNoDelay?.(true)
    } catch {}
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.timer)
    this.current?.abort(new Error('connection closed'))
    try {
      this.conn.close()
    } catch {}
  }

  async run(): Promise<void> {
    try {
      while (!this.closed && (await this.serveOne()));
    } catch {
      // A read or write on a connection the client reset: nothing to answer.
    } finally {
      this.close()
    }
  }

  /** Reads one request and answers it; false when the connection is done. */
  private async serveOne(): Promise<boolean> {
    this.arm(IDLE_MS)
    let headClock = false
    // Bytes held that are known to end no head: a head sent a byte at a time is not searched from its start each time.
    let searched = 0
    let parsed: ReturnType<typeof parseRequestHead> = null
    for (;;) {
      const held = this.buffer.subarray(this.start, this.end)
      if (held.indexOf(CRLF2, Math.max(0, searched - 3)) >= 0 && (parsed = parseRequestHead(held))) break
      // Over the limit without a head's end (empty lines before it count too).
      if (held.byteLength > MAX_REQUEST_HEAD_BYTES + 4) return this.refuse(431, `request head is over ${MAX_REQUEST_HEAD_BYTES / 1024} KiB`)
      const early = searched < 64 ? refuseEarly(held.subarray(0, 64)) : null
      if (early) return this.refuse(early.status, early.error)
      searched = held.byteLength
      // The head's first byte starts its own clock.
      if (!headClock && held.byteLength > 0) {
        headClock = true
        this.arm(HEAD_MS)
      }
      if (!(await this.fill())) return false
    }
    clearTimeout(this.timer)
    if ('error' in parsed) return this.refuse(parsed.status, parsed.error)
    const { head } = parsed
    this.start += parsed.bodyStart
    const url = requestUrl(head, this.options.hostname, this.port)
    if (url === undefined) return this.refuse(400, `bad request target ${JSON.stringify(head.target.slice(0, 80))}`)
    if (head.method === 'CONNECT') {
      if (!this.options.tunnelConnect) return this.refuse(501, 'this port does not tunnel CONNECT')
      const early = this.buffer.slice(this.start, this.end)
      this.start = this.end
      await denoTunnel(this.conn, head.target, early, this.options.tunnelConnect === true ? undefined : this.options.tunnelConnect)
      return false
    }
    const read = { done: false }
    const body = this.requestBody(head, read)
    const abort = new AbortController()
    this.current = abort
    let request: Request
    try {
      const headers = new Headers(head.headers)
      const sendsBody = body !== null && head.method !== 'GET' && head.method !== 'HEAD'
      request = new Request(url, { method: head.method, headers, body: sendsBody ? body : null, signal: abort.signal, duplex: 'half' } as RequestInit)
    } catch (error) {
      return this.refuse(400, `bad request: ${(error as Error).message}`)
    }
    if (body === null) this.watchForClose(abort)
    const done: (() => void)[] = []
    let response: Response
    let lent: LentAnswer | undefined
    try {
      response = await this.fetch(request, {
        remoteAddress: this.conn.remoteAddr?.hostname,
        afterResponse: (fn) => done.push(fn),
        // Written here, after the handler returns: `conn.write` resolving says the kernel has a chunk.
        sendLent: (status, headers, lentBody) => ((lent = { status, headers, body: lentBody }), LENT_SENT),
      })
    } catch {
      response = errorResponse(500, 'E_INTERNAL', 'internal error')
    }
    try {
      // A body the handler left unread (or one a GET or HEAD may not have) leaves the connection unusable.
      const keepAlive = head.keepAlive && (body === null || read.done)
      const options = { head: head.method === 'HEAD', keepAlive, http10: head.http10 }
      if (lent) whenAborted(abort.signal, () => lent?.body.cancel())
      const complete = lent ? await writeLent(this.conn, lent, options) : await writeBody(this.conn, response, options)
      return keepAlive && complete && !this.closed
    } finally {
      this.current = undefined
      for (const fn of done) fn()
    }
  }

  /** The request's body as a stream reading this connection, or null when it has none. */
  private requestBody(head: RequestHead, read: { done: boolean }): ReadableStream<Uint8Array> | null {
    const { framing } = head
    if (framing.kind === 'length' && framing.remaining === 0) return null
    let continued = !head.expectContinue
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        if (!continued) {
          continued = true
          await this.conn.write(CONTINUE)
        }
        if (this.start === this.end && !(await this.fill())) return controller.error(new Error('client closed the connection mid-body'))
        const bytes = this.buffer.subarray(this.start, this.end)
        if (framing.kind === 'length') {
          const take = bytes.subarray(0, Math.min(bytes.byteLength, framing.remaining))
          framing.remaining -= take.byteLength
          this.start += take.byteLength
          controller.enqueue(take.slice())
          if (framing.remaining === 0) {
            read.done = true
            controller.close()
          }
          return
        }
        const out: Uint8Array[] = []
        const error = framing.decoder.push(bytes, out)
        // The handler sees the error; the connection, its framing lost, is closed after the answer.
        if (error) return controller.error(new Error(`request body: ${error}`))
        for (const chunk of out) controller.enqueue(chunk.slice())
        this.start += framing.decoder.done ? framing.decoder.endsAt : bytes.byteLength
        if (framing.decoder.done) {
          read.done = true
          controller.close()
        }
      },
    })
  }

  /** Reads more bytes after those held (or joins the read in flight); false once the client is gone. */
  private fill(): Promise<boolean> {
    this.reading ??= this.readMore().finally(() => (this.reading = undefined))
    return this.reading
  }

  private async readMore(): Promise<boolean> {
    if (this.start === this.end) this.start = this.end = 0
    // A client pipelining faster than it is answered: what it sent waits in its socket, not here.
    if (this.end - this.start >= MAX_HELD) return true
    if (this.end === this.buffer.byteLength) {
      // Room for a head up to its limit: move what is held to the front, or grow once.
      const held = this.buffer.subarray(this.start, this.end)
      const next = held.byteLength * 2 > this.buffer.byteLength ? Buffer.allocUnsafe(Math.max(this.buffer.byteLength, MAX_REQUEST_HEAD_BYTES) * 2) : this.buffer
      next.set(held)
      this.buffer = next
      this.end -= this.start
      this.start = 0
    }
    const n = await this.conn.read(this.buffer.subarray(this.end))
    if (n === null) return false
    this.end += n
    return true
  }

  /**
   * While a request without a body is answered, a read notices the client leaving (it aborts the request).
   * What it reads stays for the next request.
   */
  private watchForClose(abort: AbortController): void {
    this.fill().then(
      (more) => more || abort.abort(new Error('client closed the connection')),
      () => abort.abort(new Error('connection failed')),
    )
  }

  private arm(ms: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.close(), ms)
  }

  private async refuse(status: number, message: string): Promise<false> {
    await writeBody(this.conn, errorResponse(status, 'E_BAD_REQUEST', message), { head: false, keepAlive: false, http10: false }).catch(() => {})
    return false
  }
}

const CRLF2 = Buffer.from('\r\n\r\n')
const CONTINUE = new TextEncoder().encode('HTTP/1.1 100 Continue\r\n\r\n')

/** The request's URL as the handler sees it: the target's own for absolute-form, else on the Host it was sent to. */
function requestUrl(head: RequestHead, hostname: string, port: number): string | undefined {
  const { target } = head
  if (head.method === 'CONNECT') return `http://${target}/`
  try {
    if (/^https?:\/\//i.test(target)) return new URL(target).href
    if (!target.startsWith('/')) return undefined
    const host = head.host ?? `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`
    return new URL(`http://${host}${target}`).href
  } catch {
    return undefined
  }
}

/** What a handler answers with after `sendLent`: the answer itself is the lent one. */
const LENT_SENT = new Response(null, { status: 204 })

function whenAborted(signal: AbortSignal, fn: () => void): void {
  if (signal.aborted) fn()
  else signal.addEventListener('abort', fn, { once: true })
}

function errorResponse(status: number, code: ErrorCode, message: string): Response {
  return Response.json({ error: createError(code, message).toJSON() }, { status })
}
