import { connect, createServer, type Socket } from 'node:net'

export interface TcpRelay {
  /** `http://127.0.0.1:<port>` of the relay's own listening socket. */
  url: string
  /** Every byte the target sent back through the relay, in order per connection. */
  fromTarget(): Buffer
  /** Every byte the clients sent through the relay. */
  toTarget(): Buffer
  connections: number
  close(): Promise<void>
}

/** A TCP relay on a free loopback port that copies each connection to `target` (host:port) and keeps what passed, to read the wire. */
export async function startTcpRelay(target: { host: string; port: number }): Promise<TcpRelay> {
  const down: Buffer[] = []
  const up: Buffer[] = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    relay.connections++
    const upstream = connect(target)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => (client.destroy(), upstream.destroy()))
    }
    client.on('data', (d: Buffer) => up.push(Buffer.from(d)))
    upstream.on('data', (d: Buffer) => down.push(Buffer.from(d)))
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const relay: TcpRelay = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    fromTarget: () => Buffer.concat(down),
    toTarget: () => Buffer.concat(up),
    connections: 0,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
  return relay
}
