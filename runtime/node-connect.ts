import type { IncomingMessage, Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { TunnelGuard } from '../core/contract/serve.ts'
import { parseConnectTarget, TUNNEL_ANSWER } from './connect-target.ts'
import { checkedLookup } from './node-guarded-fetch.ts'

/**
 * CONNECT for a forward proxy: open a TCP connection to `host:port` and
 * splice the two sockets. The bytes (usually TLS) are not looked at; HTTPS
 * through the proxy is passed on, not distributed. With a guard, the target
 * is checked as written and each address it resolves to before connecting.
 */
export function tunnelConnect(server: Server, guard?: TunnelGuard): void {
  server.on('connect', (request: IncomingMessage, client: Duplex, head: Buffer) => {
    const target = parseConnectTarget(request.url)
    if (!target) {
      client.end(TUNNEL_ANSWER.badTarget)
      return
    }
    const { host, port } = target
    try {
      guard?.(target.url)
    } catch {
      client.end(TUNNEL_ANSWER.forbidden)
      return
    }
    let established = false
    const upstream: Socket = connect({ port, host, ...(guard ? { lookup: checkedLookup(guard.address) } : {}) }, () => {
      established = true
      client.write(TUNNEL_ANSWER.established)
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', (error) => {
      if (established) client.destroy()
      else if ((error as { code?: string }).code === 'E_FORBIDDEN') client.end(TUNNEL_ANSWER.forbidden)
      else client.end(TUNNEL_ANSWER.unreachable)
    })
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
  })
}
