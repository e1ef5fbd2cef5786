import type { IncomingMessage, Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/**
 * CONNECT for a forward proxy: open a TCP connection to `host:port` and
 * splice the two sockets. The bytes (usually TLS) are not looked at; HTTPS
 * through the proxy is passed on, not distributed.
 */
export function tunnelConnect(server: Server): void {
  server.on('connect', (request: IncomingMessage, client: Duplex, head: Buffer) => {
    const m = /^\[?([^\]\s/]+?)\]?:(\d{1,5})$/.exec(request.url ?? '')
    if (!m || Number(m[2]) > 65535) {
      client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
      return
    }
    let established = false
    const upstream: Socket = connect(Number(m[2]), m[1]!, () => {
      established = true
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => {
      if (established) client.destroy()
      else client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    })
    client.on('error', () => upstream.destroy())
    client.on('close', () => upstream.destroy())
  })
}
