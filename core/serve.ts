/** The serve capability each runtime adapter provides (Node, Bun, Deno). */
export type FetchHandler = (request: Request) => Response | Promise<Response>

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
