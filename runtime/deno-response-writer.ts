import { Buffer } from 'node:buffer'
import type { LentBody } from '../core/contract/serve.ts'

/**
 * Writing a `Response` to a Deno TCP connection as HTTP/1.1
 * (`deno-http-server.ts`). A body with a Content-Length is sent as exactly
 * that many bytes (a longer stream is cut there, as storage-fs's file
 * bodies expect); one without is chunked (close-delimited for an HTTP/1.0
 * client). A byte stream (a store file's range) is read into this writer's
 * own reused buffers (BYOB), so a piece goes from the file to the socket
 * with no allocation per read. A lent answer (`writeLent`) is written from
 * the daemon's reused piece buffers, each given back once written.
 */

export interface DenoConn {
  read(p: Uint8Array): Promise<number | null>
  write(p: Uint8Array): Promise<number>
  closeWrite?(): Promise<void>
  close(): void
  readonly remoteAddr?: { hostname?: string }
  setNoDelay?(noDelay?: boolean): void
}

export interface WriteOptions {
  /** A HEAD request: the head only. */
  head: boolean
  keepAlive: boolean
  http10: boolean
}

const encoder = new TextEncoder()
/** Bodies up to this long are gathered and sent with the head in one write. */
const SMALL_BODY = 64 * 1024
/** BYOB read size: a store file's range is read and sent this much at a time. */
const FILE_READ = 1024 * 1024
/** Read buffers kept for the next byte-stream body. */
const KEEP_BUFFERS = 8
const buffers: ArrayBuffer[] = []

const REASONS: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  206: 'Partial Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  307: 'Temporary Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
}

/** Headers the writer sets itself: the framing and the connection's fate are its own. */
const OWN = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'set-cookie'])

/** An answer given to `ServeBindings.sendLent`. */
export interface LentAnswer {
  status: number
  headers: Headers
  body: LentBody
}

/**
 * Sends a lent answer (`ServeBindings.sendLent`): the head, then exactly Content-Length bytes of the chunks,
 * each given back once `conn.write` resolved (the kernel has it), not before. Without a length (no caller
 * today) each chunk is copied and the answer goes out as `writeBody` sends a stream.
 */
export async function writeLent(conn: DenoConn, answer: LentAnswer, options: WriteOptions): Promise<boolean> {
  const { body } = answer
  const length = contentLength(answer.headers)
  const iterator = body.chunks[Symbol.asyncIterator]()
  try {
    if (length === undefined || options.head) {
      const copied = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = await iterator.next()
          if (next.done) return controller.close()
          const copy = next.value.slice()
          body.release(next.value)
          controller.enqueue(copy)
        },
      })
      return await writeBody(conn, new Response(copied, { status: answer.status, headers: answer.headers }), options)
    }
    await writeAll(conn, encoder.encode(`${headLines(answer.status, answer.headers)}content-length: ${length}\r\n${connectionHeader(options)}\r\n`))
    for (let left = length; left > 0; ) {
      const next = await iterator.next()
      // Shorter than its Content-Length: the client is told by the connection closing.
      if (next.done) return false
      const chunk = next.value
      try {
        await writeAll(conn, chunk.subarray(0, left))
      } finally {
        body.release(chunk)
      }
      left -= Math.min(left, chunk.byteLength)
    }
    return true
  } catch (error) {
    // The client is gone or the body failed: whatever the body's reader waits for need not come.
    body.cancel()
    throw error
  } finally {
    await iterator.return?.().catch(() => {})
  }
}

function contentLength(headers: Headers): number | undefined {
  const declared = headers.get('content-length')
  return declared !== null && /^\d{1,15}$/.test(declared) ? Number(declared) : undefined
}

/** The status line and the headers the writer does not set itself. */
function headLines(status: number, headers: Headers): string {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? ''}\r\n`
  for (const [name, value] of headers) if (!OWN.has(name)) head += `${name}: ${value}\r\n`
  for (const cookie of headers.getSetCookie()) head += `set-cookie: ${cookie}\r\n`
  return head
}

/** Sends `response`; true when its body went out whole (the connection may carry another). */
export async function writeBody(conn: DenoConn, response: Response, options: WriteOptions): Promise<boolean> {
  const { status } = response
  const bodiless = options.head || status === 204 || status === 304 || status < 200
  const length = contentLength(response.headers)
  let head = headLines(status, response.headers)
  const body = response.body
  if (bodiless) {
    await body?.cancel().catch(() => {})
    if (length !== undefined && status !== 204 && status >= 200) head += `content-length: ${length}\r\n`
    await writeAll(conn, encoder.encode(`${head}${connectionHeader(options)}\r\n`))
    return true
  }
  if (body === null || length === 0) {
    await body?.cancel().catch(() => {})
    await writeAll(conn, encoder.encode(`${head}content-length: 0\r\n${connectionHeader(options)}\r\n`))
    return true
  }
  if (length !== undefined) {
    head += `content-length: ${length}\r\n${connectionHeader(options)}\r\n`
    return length <= SMALL_BODY ? sendSmall(conn, head, body, length) : sendLength(conn, encoder.encode(head), body, length)
  }
  // No length: chunked, or (HTTP/1.0) the body runs to the connection's close.
  const keepAlive = options.keepAlive && !options.http10
  head += options.http10 ? 'connection: close\r\n\r\n' : `transfer-encoding: chunked\r\n${connectionHeader({ ...options, keepAlive })}\r\n`
  await writeAll(conn, encoder.encode(head))
  const reader = body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!value.byteLength) continue
      if (options.http10) await writeAll(conn, value)
      else if (value.byteLength <= SMALL_BODY) await writeAll(conn, Buffer.concat([encoder.encode(`${value.byteLength.toString(16)}\r\n`), value, CRLF]))
      else for (const part of [encoder.encode(`${value.byteLength.toString(16)}\r\n`), value, CRLF]) await writeAll(conn, part)
    }
  } catch (error) {
    await reader.cancel(error).catch(() => {})
    throw error
  }
  if (!options.http10) await writeAll(conn, LAST_CHUNK)
  return keepAlive
}

const CRLF = encoder.encode('\r\n')
const LAST_CHUNK = encoder.encode('0\r\n\r\n')

function connectionHeader(options: WriteOptions): string {
  if (!options.keepAlive) return 'connection: close\r\n'
  return options.http10 ? 'connection: keep-alive\r\n' : ''
}

/** A short body with a length: gathered, then sent with the head in one write. */
async function sendSmall(conn: DenoConn, head: string, body: ReadableStream<Uint8Array>, length: number): Promise<boolean> {
  const parts: Uint8Array[] = [encoder.encode(head)]
  let got = 0
  const reader = body.getReader()
  while (got < length) {
    const { done, value } = await reader.read()
    if (done) break
    const part = value.subarray(0, length - got)
    parts.push(part)
    got += part.byteLength
  }
  if (got === length) await reader.cancel().catch(() => {})
  await writeAll(conn, Buffer.concat(parts))
  // Shorter than its Content-Length: the client is told by the connection closing.
  return got === length
}

/** A long body with a length: the head, then exactly `length` body bytes. */
async function sendLength(conn: DenoConn, head: Uint8Array, body: ReadableStream<Uint8Array>, length: number): Promise<boolean> {
  await writeAll(conn, head)
  const byob = byobReader(body)
  if (!byob) {
    const reader = body.getReader()
    let left = length
    try {
      while (left > 0) {
        const { done, value } = await reader.read()
        if (done) return false
        const part = value.subarray(0, left)
        await writeAll(conn, part)
        left -= part.byteLength
      }
    } catch (error) {
      await reader.cancel(error).catch(() => {})
      throw error
    }
    await reader.cancel().catch(() => {})
    return true
  }
  let memory = buffers.pop() ?? new ArrayBuffer(FILE_READ)
  let left = length
  try {
    while (left > 0) {
      const { done, value } = await byob.read(new Uint8Array(memory, 0, Math.min(left, FILE_READ)))
      if (!value) return false
      memory = value.buffer as ArrayBuffer
      if (done) return false
      await writeAll(conn, value)
      left -= value.byteLength
    }
  } catch (error) {
    await byob.cancel(error).catch(() => {})
    throw error
  } finally {
    // A buffer still attached (not handed to a read that never came back) is kept for the next body.
    if (memory.byteLength === FILE_READ && buffers.length < KEEP_BUFFERS) buffers.push(memory)
  }
  await byob.cancel().catch(() => {})
  return true
}

/** A BYOB reader when `body` is a byte stream, else undefined (the body stays unlocked). */
function byobReader(body: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return body.getReader({ mode: 'byob' })
  } catch {
    return undefined
  }
}

/** Writes all of `bytes` (Deno's `write` may take fewer). */
export async function writeAll(conn: DenoConn, bytes: Uint8Array): Promise<void> {
  for (let sent = 0; sent < bytes.byteLength; ) sent += await conn.write(bytes.subarray(sent))
}
