import { createHash, randomBytes } from 'node:crypto'
import { createServer as createHttpServer, type Server } from 'node:http'
import { type AddressInfo, connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'
import { describe, expect, it } from 'vitest'
import type { PieceHttpResponse } from '../../core/contract/piece-get.ts'
import { socketPieceGet } from '../../runtime/node-piece-socket.ts'
import { useTestServers } from '../helpers/test-servers.ts'

const { servers, sockets } = useTestServers()

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff
  return out
}

/** A node:http server; counts TCP connections. */
async function httpServer(handler: Parameters<typeof createHttpServer>[1]): Promise<{ url: string; connections: () => number; server: Server }> {
  const server = createHttpServer(handler)
  let connections = 0
  server.on('connection', () => connections++)
  servers.push(server)
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections, server }
}

/** A raw TCP server that answers each connection's first request with `answer`. */
async function rawServer(answer: (socket: Socket) => void): Promise<string> {
  const server = createNetServer((socket) => {
    sockets.add(socket)
    socket.once('data', () => answer(socket))
    socket.on('error', () => {})
  })
  servers.push(server)
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

async function collect(response: PieceHttpResponse): Promise<{ body: Buffer; chunks: Uint8Array[] }> {
  const chunks: Uint8Array[] = []
  for await (const chunk of response.chunks) chunks.push(chunk)
  return { body: Buffer.concat(chunks), chunks }
}

const signal = (): AbortSignal => AbortSignal.timeout(10_000)

describe('socket piece GET (runtime/node-piece-socket.ts) against real servers', () => {
  it('reads a Content-Length body straight into the buffer it is given, and reuses the connection', async () => {
    const piece = bytes(3 * 1024 * 1024 + 17)
    const seen: Record<string, string | string[] | undefined>[] = []
    const srv = await httpServer((req, res) => {
      seen.push(req.headers)
      res.writeHead(200, { 'content-length': piece.byteLength, 'x-dragonfly-coding': 'identity' }).end(piece)
    })
    for (let round = 0; round < 3; round++) {
      const into = new Uint8Array(4 * 1024 * 1024)
      const response = await socketPieceGet(`${srv.url}/pieces/t/${round}`, { signal: signal(), headers: { 'x-token': 'abc' }, into })
      expect(response.status).toBe(200)
      expect(response.header('X-Dragonfly-Coding')).toBe('identity')
      const { body, chunks } = await collect(response)
      expect(Buffer.compare(body, piece)).toBe(0)
      // Every chunk is a view of `into` at its place in the body: nothing left for the receiver to copy.
      let at = 0
      for (const c of chunks) {
        expect(c.buffer).toBe(into.buffer)
        expect(c.byteOffset).toBe(at)
        at += c.byteLength
      }
    }
    expect(seen.map((h) => h['x-token'])).toEqual(['abc', 'abc', 'abc'])
    expect(seen[0]!.host).toBe(new URL(srv.url).host)
    expect(srv.connections()).toBe(1)
  })

  it('asks again on a new connection when the server drops the pooled one', async () => {
    let connections = 0
    const server = createNetServer((socket) => {
      sockets.add(socket)
      const n = ++connections
      let requests = 0
      socket.on('error', () => {})
      socket.on('data', () => {
        // The first connection answers once, then closes on the next request, as a server whose idle timer fired would.
        if (n === 1 && ++requests > 1) return void socket.destroy()
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello')
      })
    })
    servers.push(server)
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    expect((await collect(await socketPieceGet(`${url}/a`, { signal: signal() }))).body.toString()).toBe('hello')
    expect((await collect(await socketPieceGet(`${url}/b`, { signal: signal() }))).body.toString()).toBe('hello')
    expect(connections).toBe(2)
  })

  it('decodes chunked bodies and close-delimited bodies', async () => {
    const piece = bytes(300_000, 2)
    const chunked = await httpServer((_req, res) => {
      res.writeHead(200)
      for (let at = 0; at < piece.byteLength; at += 70_000) res.write(piece.subarray(at, at + 70_000))
      res.end()
    })
    const a = await collect(await socketPieceGet(`${chunked.url}/x`, { signal: signal(), into: new Uint8Array(piece.byteLength) }))
    expect(Buffer.compare(a.body, piece)).toBe(0)
    const closing = await rawServer((socket) => socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nx-a: 1\r\n\r\n'), piece])))
    const b = await collect(await socketPieceGet(`${closing}/y`, { signal: signal() }))
    expect(Buffer.compare(b.body, piece)).toBe(0)
  })

  it('gives a body longer than the buffer in chunks of its own', async () => {
    const piece = bytes(200_000, 3)
    const srv = await httpServer((_req, res) => res.writeHead(200, { 'content-length': piece.byteLength }).end(piece))
    const into = new Uint8Array(1000)
    const { body, chunks } = await collect(await socketPieceGet(`${srv.url}/z`, { signal: signal(), into }))
    expect(Buffer.compare(body, piece)).toBe(0)
    expect(chunks.every((c) => c.buffer !== into.buffer)).toBe(true)
  })

  it('refuses malformed responses with an error, never a hang', async () => {
    const cases: [string, string][] = [
      ['bad status line', 'HTTP/2 200\r\n\r\n'],
      ['bad content-length', 'HTTP/1.1 200 OK\r\ncontent-length: 12x\r\n\r\n'],
      ['two content-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd'],
      ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken\r\n\r\n'],
      ['an unknown transfer-encoding', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n'],
      ['a head over 16 KiB', `HTTP/1.1 200 OK\r\nx: ${'a'.repeat(20_000)}\r\n\r\n`],
    ]
    for (const [what, answer] of cases) {
      const url = await rawServer((socket) => socket.end(answer))
      await expect(socketPieceGet(`${url}/p`, { signal: signal() }), what).rejects.toThrow()
    }
    const badChunk = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nabcde\r\nzz\r\n'))
    await expect(collect(await socketPieceGet(`${badChunk}/p`, { signal: signal() }))).rejects.toThrow(/chunk size/)
    const cut = await rawServer((socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly this'))
    await expect(collect(await socketPieceGet(`${cut}/p`, { signal: signal() }))).rejects.toThrow()
    const refused = await rawServer(() => {})
    const port = new URL(refused).port
    await new Promise<void>((done) => (servers.pop() as NetServer).close(() => done()))
    await expect(socketPieceGet(`http://127.0.0.1:${port}/p`, { signal: signal() })).rejects.toThrow(/ECONNREFUSED/)
  })

  it('does not reuse a connection that sent bytes after the body', async () => {
    let connections = 0
    const url = await rawServer((socket) => {
      connections++
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabcEXTRA')
    })
    for (let i = 0; i < 2; i++) expect((await collect(await socketPieceGet(`${url}/p`, { signal: signal() }))).body.toString()).toBe('abc')
    expect(connections).toBe(2)
  })

  it('stops on abort mid-body', async () => {
    const url = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\nstart'))
    const controller = new AbortController()
    const response = await socketPieceGet(`${url}/p`, { signal: controller.signal })
    // Aborted once the body has started to arrive: the rest (999,995 bytes) never comes, so only the abort can end the read.
    const reading = (async () => {
      for await (const _chunk of response.chunks) controller.abort(new Error('piece timed out'))
    })()
    await expect(reading).rejects.toThrow(/timed out/)
  })

  it('pauses the socket while the reader lags, so a paced reader paces TCP', async () => {
    const total = 48 * 1024 * 1024
    let flushed = 0
    let onStall!: () => void
    const stalled = new Promise<void>((resolve) => (onStall = resolve))
    const url = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`)
      const block = Buffer.alloc(256 * 1024, 7)
      const pump = (): void => {
        while (flushed < total) {
          flushed += block.byteLength
          if (!socket.write(block)) return void (onStall(), socket.once('drain', pump))
        }
      }
      pump()
    })
    const response = await socketPieceGet(`${url}/p`, { signal: signal(), into: new Uint8Array(total) })
    // The server's writes stall on the kernel buffers first (an event); then a window, since something not
    // happening can only be seen over time. The control below shows a client that does not pace lets it all go.
    await stalled
    await new Promise((r) => setTimeout(r, 500))
    // Not read yet: at most the 1 MiB read-ahead plus what the kernel buffers on both ends.
    expect(flushed).toBeLessThan(total / 2)
    const { body } = await collect(response)
    expect(body.byteLength).toBe(total)
    expect(createHash('sha256').update(body).digest('hex')).toBe(createHash('sha256').update(Buffer.alloc(total, 7)).digest('hex'))
    // Positive control: a raw client that reads without pause takes every byte the same server writes.
    const control = connect({ host: '127.0.0.1', port: Number(new URL(url).port) }, () => control.write('GET /p HTTP/1.1\r\nhost: x\r\n\r\n'))
    let received = 0
    control.on('data', (d: Buffer) => (received += d.length))
    flushed = 0
    await expect.poll(() => received > total, { timeout: 60_000, interval: 20 }).toBe(true)
    control.destroy()
  })
})

/** A GET by hand that leaves the response unread for `delayMs` (the kernel's buffers fill, the server's write waits). */
function lazyGet(url: string, delayMs: number): Promise<Buffer> {
  const { hostname, port, pathname } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(`GET ${pathname} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`))
    socket.pause()
    setTimeout(() => socket.resume(), delayMs)
    const parts: Buffer[] = []
    socket.on('data', (d: Buffer) => parts.push(d))
    socket.on('error', reject)
    socket.on('end', () => {
      const all = Buffer.concat(parts)
      resolve(all.subarray(all.indexOf('\r\n\r\n') + 4))
    })
  })
}

describe('piece server memory reuse (core/transfer/piece-server.ts on the Node runtime)', () => {
  it('serves every piece intact to slow and vanishing readers while its buffers are reused', async () => {
    const { createPieceRoutes } = await import('../../core/transfer/piece-server.ts')
    const { createPieceLayout } = await import('../../core/protocol/piece-layout.ts')
    const { createFsStorage } = await import('../../plugins/storage-fs/index.ts')
    const { nodeRuntime } = await import('../../runtime/node.ts')
    const { tempDir } = await import('../helpers/cli.ts')
    const taskId = 'c'.repeat(64)
    const pieceSize = 8 * 1024 * 1024
    const layout = createPieceLayout(6 * pieceSize + 999, pieceSize)
    const storage = createFsStorage(await tempDir())
    const content = new Uint8Array(randomBytes(layout.contentLength))
    await storage.writeAt(taskId, 0, content)
    const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')
    const expected = Array.from({ length: layout.pieceCount }, (_, i) => digest(content.subarray(i * pieceSize, (i + 1) * pieceSize)))
    const routes = createPieceRoutes({ lookup: (id) => (id === taskId ? { layout, storage, has: () => true } : undefined) })
    const server = await nodeRuntime.serve(routes.fetch, { port: 0, hostname: '127.0.0.1' })
    try {
      const base = `http://127.0.0.1:${server.port}/pieces/${taskId}`
      // Readers that give up halfway leave responses unsent: their memory must not come back before the socket is gone.
      const quitters = Array.from({ length: 4 }, async (_, i) => {
        const response = await socketPieceGet(`${base}/${i}`, { signal: signal() })
        for await (const _chunk of response.chunks) break
      })
      // Slow readers hold responses mid-write while fast ones keep taking and returning buffers.
      const slow = Array.from(
        { length: 12 },
        async (_, i) => digest(await lazyGet(`${base}/${i % layout.pieceCount}`, 300 + i * 20)) === expected[i % layout.pieceCount],
      )
      const fast = Array.from({ length: 24 }, async (_, i) => {
        const piece = (i * 5 + 1) % layout.pieceCount
        return digest((await collect(await socketPieceGet(`${base}/${piece}`, { signal: signal() }))).body) === expected[piece]
      })
      await Promise.allSettled(quitters)
      expect(await Promise.all(fast)).toEqual(Array(24).fill(true))
      expect(await Promise.all(slow)).toEqual(Array(12).fill(true))
    } finally {
      await server.close()
      await storage.close?.()
    }
  })
})
