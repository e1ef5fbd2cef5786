import { fetchPieceGet, type PieceHttpGet, type PieceHttpResponse } from '../core/contract/piece-get.ts'
import { requestHead } from './http-head.ts'

/** Idle connections kept per host:port; more are closed when they come back. */
const IDLE_PER_HOST = 16
/** A parked connection is closed after waiting this long, as Node's socket pool does. */
export const IDLE_MS = 15_000

interface Parked<T> {
  connection: T
  timer: ReturnType<typeof setTimeout>
}

/**
 * Keep-alive connections of a piece client (Bun's, Deno's), per
 * `host:port`, waiting for the next piece GET. A connection the server
 * closed meanwhile fails its next request, which is then asked again on a
 * new one. Each is closed after IDLE_MS unused: peers come and go on new
 * ports, and a long-lived daemon would otherwise keep a socket to every
 * peer that ever served it.
 */
export class IdleConnections<T> {
  private readonly idle = new Map<string, Parked<T>[]>()

  take(key: string): T | undefined {
    const list = this.idle.get(key)
    const parked = list?.pop()
    if (list && !list.length) this.idle.delete(key)
    if (parked) clearTimeout(parked.timer)
    return parked?.connection
  }

  /** Parks a connection whose response is complete, or closes it when the host has enough waiting. */
  park(key: string, connection: T, close: () => void): void {
    const list = this.idle.get(key) ?? []
    if (list.length >= IDLE_PER_HOST) return close()
    const parked: Parked<T> = {
      connection,
      timer: unref(
        setTimeout(() => {
          const at = list.indexOf(parked)
          if (at >= 0) list.splice(at, 1)
          if (!list.length && this.idle.get(key) === list) this.idle.delete(key)
          close()
        }, IDLE_MS),
      ),
    }
    list.push(parked)
    this.idle.set(key, list)
  }

  /** Host:port keys with a connection waiting. */
  get size(): number {
    return this.idle.size
  }
}

/** An idle connection's timer does not keep the process alive (Bun and Node: `unref()`; Deno: `Deno.unrefTimer`). */
function unref<H>(timer: H): H {
  const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno
  if (typeof timer === 'number') deno?.unrefTimer?.(timer)
  else (timer as { unref?(): void }).unref?.()
  return timer
}

/** A runtime's TCP client that reads a piece body straight into the receiver's buffer. */
export interface InPlaceClient<T> {
  idle: IdleConnections<T>
  connect(hostname: string, port: number, key: string): Promise<T>
  /**
   * Sends the request and reads the response's head. When it rejects, the connection is closed: a failure,
   * an abort, or a signal aborted before it began (the GET's connection opened after its download ended).
   */
  exchange(connection: T, key: string, request: Uint8Array, into: Uint8Array, signal: AbortSignal): Promise<PieceHttpResponse>
}

const encoder = new TextEncoder()

/**
 * Thrown by a client's exchange for an answer it cannot read in place (chunked, as Bun.serve sends a streamed
 * body such as a rate-limited piece, or longer than the buffer): the GET is asked again through `fetch`.
 */
export class NotInPlace extends Error {}

/** Plain-HTTP piece GETs with a buffer to read into go through `client`; HTTPS and GETs without one through `fetch`. */
export function inPlacePieceGet<T>(client: InPlaceClient<T>): PieceHttpGet {
  return async (url, init) => {
    const target = new URL(url)
    if (target.protocol !== 'http:' || !init.into) return fetchPieceGet(url, init)
    const hostname = target.hostname.replace(/^\[(.*)\]$/, '$1')
    const port = Number(target.port || 80)
    const key = `${hostname}:${port}`
    const request = encoder.encode(requestHead(`${target.pathname}${target.search}`, target.host, init.headers))
    // Aborted already: a pooled connection stays pooled.
    init.signal.throwIfAborted()
    const pooled = client.idle.take(key)
    if (pooled) {
      // A pooled connection the server closed while it sat idle answers nothing: ask once more on a new one.
      const answer = await client.exchange(pooled, key, request, init.into, init.signal).catch((error: unknown) => (error instanceof NotInPlace ? error : null))
      if (answer instanceof NotInPlace) return fetchPieceGet(url, init)
      if (answer || init.signal.aborted) return answer ?? Promise.reject(init.signal.reason)
    }
    // Handed to exchange even when the GET was aborted while it opened: exchange closes it then.
    const connection = await client.connect(hostname, port, key)
    return client.exchange(connection, key, request, init.into, init.signal).catch((error: unknown) => {
      if (error instanceof NotInPlace && !init.signal.aborted) return fetchPieceGet(url, init)
      throw error
    })
  }
}
