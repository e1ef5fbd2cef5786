import { connect, createServer, type Socket } from 'node:net'

export interface TcpRelay {
  /** `http://127.0.0.1:<port>` of the relay's own listening socket. */
  url: string
  /** Every byte the target sent back through the relay, in order per connection. */
  fromTarget(): Buffer
  /** Every byte the clients sent through the relay. */
  toTarget(): Buffer
  connections: number
  /** Resolves once a connection has been held at `holdAfter` bytes. */
  held: Promise<void>
  /** Lets held connections go on (and every later one pass freely). */
  release(): void
  close(): Promise<void>
}

/**
 * A TCP relay on a free loopback port that copies each connection to `target` (host:port, read per connection:
 * it may be set after the relay starts) and keeps what passed, to read the wire. With `holdAfter`, a connection
 * whose answer passes that many bytes stops there until `release()`: the test, not the clock, decides when
 * the rest of a response may go.
 */
export async function startTcpRelay(target: { host: string; port: number }, options: { holdAfter?: number } = {}): Promise<TcpRelay> {
  const down: Buffer[] = []
  const up: Buffer[] = []
  const sockets = new Set<Socket>()
  let open = options.holdAfter === undefined
  let onHeld!: () => void
  const held = new Promise<void>((resolve) => (onHeld = resolve))
  const waiting: (() => void)[] = []
  const server = createServer((client) => {
    relay.connections++
    const upstream = connect(target)
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => (client.destroy(), upstream.destroy()))
    }
    client.on('data', (d: Buffer) => up.push(Buffer.from(d)))
    client.pipe(upstream)
    let passed = 0
    upstream.on('data', (d: Buffer) => {
      down.push(Buffer.from(d))
      const room = open ? d.length : Math.max(0, options.holdAfter! - passed)
      passed += d.length
      if (room >= d.length) return void client.write(d)
      client.write(d.subarray(0, room))
      upstream.pause()
      waiting.push(() => (client.write(d.subarray(room)), upstream.resume()))
      onHeld()
    })
    upstream.on('end', () => client.end())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const relay: TcpRelay = {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    fromTarget: () => Buffer.concat(down),
    toTarget: () => Buffer.concat(up),
    connections: 0,
    held,
    release() {
      open = true
      for (const go of waiting.splice(0)) go()
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
  return relay
}
