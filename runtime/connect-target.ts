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

export function parseConnectTarget(target: string | undefined): ConnectTarget | undefined {
  const m = TARGET.exec(target ?? '')
  if (!m) return undefined
  const port = Number(m[3])
  if (port < 1 || port > 65535) return undefined
  const host = (m[1] ?? m[2])!
  return { host, port, url: `http://${m[2] === undefined ? host : `[${host}]`}:${port}/` }
}
