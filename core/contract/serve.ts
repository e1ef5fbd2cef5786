import type { AddressCheck } from './guarded-fetch.ts'

/** The serve capability each runtime adapter provides (Node, Bun, Deno). */
export type FetchHandler = (request: Request, bindings?: ServeBindings) => Response | Promise<Response>

/** What a runtime may pass along with each request (the app's `c.env`). */
export interface ServeBindings {
  /**
   * Calls `fn` once the response has gone to the OS or its connection is
   * gone: memory lent to the body may be reused then. Runtimes that cannot
   * tell leave it out (bodies then get memory of their own).
   */
  afterResponse?(fn: () => void): void
  /**
   * Sends an answer whose body chunks are lent memory, and gives each chunk
   * back (`body.release`) once it was handed to the OS or the connection is
   * gone: a long body can then be read into a few reused buffers. Returns
   * the Response the handler answers with (the answer is already on its
   * way). Runtimes that cannot tell when a chunk is written leave it out.
   */
  sendLent?(status: number, headers: Headers, body: LentBody): Response
  /** The address the request's connection came from (no port), where the runtime tells it. */
  remoteAddress?: string
}

/** A body of lent chunks (`ServeBindings.sendLent`). */
export interface LentBody {
  /** The chunks, in order; each stays untouched until it is released. */
  chunks: AsyncIterable<Uint8Array>
  release(chunk: Uint8Array): void
  /** The answer ended early (the connection is gone): a chunk being waited for need not come. */
  cancel(): void
}

export interface ServeOptions {
  port: number
  hostname: string
  /**
   * Answer CONNECT by tunnelling to its target (the daemon's forward proxy; Bun's adapter serves such a port on
   * its node:http). A guard is asked about `http://host:port/` first and about each address the host resolves
   * to; the tunnel connects only to an address that passed.
   */
  tunnelConnect?: boolean | TunnelGuard
  /**
   * Clients of this port rely on the Content-Length of streamed bodies (a registry mirror's blobs, a source's
   * file): an adapter whose own server sends such a body chunked (Bun.serve, oven-sh/bun#10507) serves the
   * port with one that keeps the length.
   */
  keepStreamLength?: boolean
}

/** The SSRF guard's two checks, as the CONNECT tunnel uses them. */
export interface TunnelGuard {
  (url: string): void
  address: AddressCheck
}

export interface ServerHandle {
  port: number
  close(): Promise<void>
}

export type ServeFn = (fetch: FetchHandler, options: ServeOptions) => Promise<ServerHandle>
