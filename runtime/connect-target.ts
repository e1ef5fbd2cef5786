/**
 * The target of a CONNECT (authority-form, RFC 9110 §9.3.6): a host name or IPv4 address, or a bracketed
 * IPv6 address, then a port. Nothing else: a target with `?`, `#`, `@` or `\` would be read one way by the
 * guard's URL parser and another by the resolver (a deny rule on `*.corp.internal` must not be dodged with
 * `x?.corp.internal:443`). Shared by the Node/Bun tunnel (`node-connect.ts`) and Deno's (`deno-connect.ts`).
 */
const TARGET = /^(?:([A-Za-z0-9_.-]+)|\[([0-9A-Fa-f:.]+)\]):(\d{1,5})$/

export interface ConnectTarget {
  /** As the resolver takes it: IPv6 without brackets. */
  host: string
  port: number
  /** `http://host:port/`, what the guard checks. */
  url: string
}

/** The answers a tunnel gives, the same on every runtime. */
export const TUNNEL_ANSWER = {
  established: 'HTTP/1.1 200 Connection Established\r\n\r\n',
  badTarget: refusal('400 Bad Request'),
  forbidden: refusal('403 Forbidden'),
  unreachable: refusal('502 Bad Gateway'),
} as const

function refusal(status: string): string {
  return `HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
}

export function parseConnectTarget(target: string | undefined): ConnectTarget | undefined {
  const m = TARGET.exec(target ?? '')
  if (!m) return undefined
  const port = Number(m[3])
  if (port < 1 || port > 65535) return undefined
  const host = (m[1] ?? m[2])!
  return { host, port, url: `http://${m[2] === undefined ? host : `[${host}]`}:${port}/` }
}
