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
}

export interface ServeOptions {
  port: number
  hostname: string
  /** Answer CONNECT by tunnelling to its target (the daemon's forward proxy); only the Node adapter can. */
  tunnelConnect?: boolean
}

export interface ServerHandle {
  port: number
  close(): Promise<void>
}

export type ServeFn = (fetch: FetchHandler, options: ServeOptions) => Promise<ServerHandle>
