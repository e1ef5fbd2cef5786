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
  /** The address the request's connection came from (no port), where the runtime tells it. */
  remoteAddress?: string
}

export interface ServeOptions {
  port: number
  hostname: string
  /**
   * Answer CONNECT by tunnelling to its target (the daemon's forward proxy); only the Node adapter can.
   * A guard is asked about `http://host:port/` first and about each address the host resolves to.
   */
  tunnelConnect?: boolean | TunnelGuard
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
