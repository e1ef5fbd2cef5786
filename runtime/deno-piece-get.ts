import { Buffer } from 'node:buffer'
import type { PieceHttpResponse } from '../core/contract/piece-get.ts'
import { inPlaceBody, parseResponseHead } from './http-head.ts'
import { IdleConnections, inPlacePieceGet, NotInPlace } from './in-place-piece-get.ts'

/**
 * Piece GETs over Deno's own TCP connections (`Deno.connect`): `conn.read`
 * fills the memory it is given, so a piece body lands straight in the
 * receiver's buffer, without the chunk per read that `fetch`'s body stream
 * allocates (and the GC then collects). Plain HTTP with a Content-Length that
 * fits the buffer; anything else (HTTPS, chunked, no buffer) goes to `fetch`.
 */

interface DenoConn {
  read(p: Uint8Array): Promise<number | null>
  write(p: Uint8Array): Promise<number>
  close(): void
}
declare const Deno: { connect(options: { hostname: string; port: number }): Promise<DenoConn> }

/** One byte more than a head may take (16 KiB): a longer one is refused, not waited for. */
const HEAD_BYTES = 16 * 1024 + 1
const idle = new IdleConnections<DenoConn>()

export const denoPieceGet = inPlacePieceGet<DenoConn>({ idle, connect: (hostname, port) => Deno.connect({ hostname, port }), exchange })

async function exchange(conn: DenoConn, key: string, request: Uint8Array, into: Uint8Array, signal: AbortSignal): Promise<PieceHttpResponse> {
  let closed = false
  const close = (): void => {
    if (closed) return
    closed = true
    signal.removeEventListener('abort', close)
    conn.close()
  }
  signal.addEventListener('abort', close, { once: true })
  try {
    // Aborted while the connection opened: closed below, not left open.
    signal.throwIfAborted()
    for (let sent = 0; sent < request.byteLength; ) sent += await conn.write(request.subarray(sent))
    const scratch = Buffer.allocUnsafe(HEAD_BYTES)
    let got = 0
    for (;;) {
      const n = await conn.read(scratch.subarray(got))
      if (n === null) throw new Error('piece server closed the connection before answering')
      got += n
      const parsed = parseResponseHead(scratch.subarray(0, got))
      if (parsed === null) continue
      if ('error' in parsed) throw new Error(`piece server: ${parsed.error}`)
      const { head } = parsed
      const inPlace = inPlaceBody(parsed, scratch.subarray(0, got), into)
      // Not a body this client reads in place: the connection is not reused, the bytes are not trusted.
      if ('error' in inPlace) throw new NotInPlace(`piece server ${inPlace.error}`)
      const { length, early } = inPlace
      into.set(early)
      const park = (): void => {
        signal.removeEventListener('abort', close)
        if (!head.keepAlive || closed) return close()
        idle.park(key, conn, close)
      }
      const body = readBody(conn, into.subarray(0, length), early.byteLength, park, close)
      return {
        status: head.status,
        header: (name) => head.headers.get(name.toLowerCase()) ?? null,
        chunks: body,
        cancel: close,
      }
    }
  } catch (error) {
    close()
    throw signal.aborted ? signal.reason : error
  }
}

/** The body's bytes as views of `into` where they landed; `park` once the body is whole, else `close`. */
async function* readBody(conn: DenoConn, into: Uint8Array, filled: number, park: () => void, close: () => void): AsyncGenerator<Uint8Array> {
  let complete = false
  try {
    if (filled > 0) yield into.subarray(0, filled)
    while (filled < into.byteLength) {
      const n = await conn.read(into.subarray(filled))
      if (n === null) throw new Error(`piece server closed the connection after ${filled} of ${into.byteLength} body bytes`)
      yield into.subarray(filled, filled + n)
      filled += n
    }
    complete = true
    park()
  } finally {
    // A reader that stopped early (or a failed read) leaves the connection mid-body: it cannot be reused.
    if (!complete) close()
  }
}
