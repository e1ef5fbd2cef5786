import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http'
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net'
import { createFetch } from 'ofetch'
import { expect, it } from 'vitest'
import { DragonflyError } from '../../core/errors.ts'
import { createSupernodeClient } from '../../core/peer/supernode-client.ts'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { nodeApiFetch } from '../../runtime/node-api-fetch.ts'
import { useTestServers } from '../helpers/test-servers.ts'

// The Node runtime's transport for supernode API calls, on real sockets, through the client peers use.

const { servers, sockets } = useTestServers()

async function listen<T extends Server | NetServer>(server: T): Promise<string> {
  servers.push(server)
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((done) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => done(body))
  })
}

const client = createSupernodeClient({ fetch: nodeApiFetch, headers: () => ({ 'x-auth': 'token-1' }) })

it('posts JSON with the caller headers and reads the JSON answer, over one kept-alive connection', async () => {
  const seen: { method?: string; url?: string; type?: string; auth?: string; body: unknown }[] = []
  const server = createHttpServer(async (req, res) => {
    seen.push({
      method: req.method,
      url: req.url,
      type: req.headers['content-type'],
      auth: req.headers['x-auth'] as string,
      body: JSON.parse(await readBody(req)),
    })
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ assignments: [{ piece: seen.length }], done: false }))
  })
  let connections = 0
  server.on('connection', () => connections++)
  const base = await listen(server)
  const first = await client.pull(base, 'a'.repeat(64), { peerId: 'p1', want: 2, wait: false })
  const second = await client.pull(base, 'a'.repeat(64), { peerId: 'p1', want: 1, wait: false })
  expect(first).toEqual({ assignments: [{ piece: 1 }], done: false })
  expect(second).toEqual({ assignments: [{ piece: 2 }], done: false })
  expect(seen[0]).toEqual({
    method: 'POST',
    url: `/api/v1/tasks/${'a'.repeat(64)}/pull`,
    type: 'application/json',
    auth: 'token-1',
    body: { peerId: 'p1', want: 2, wait: false },
  })
  expect(connections).toBe(1)
})

it('maps a coded error answer to its code, and a refused connection to E_NO_SUPERNODE', async () => {
  const base = await listen(
    createHttpServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { code: 'E_UNKNOWN_TASK', message: 'no task here' } }))
    }),
  )
  const error = await client.pull(base, 'b'.repeat(64), { peerId: 'p1' }).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(DragonflyError)
  expect((error as DragonflyError).code).toBe('E_UNKNOWN_TASK')

  const closed = createNetServer()
  const gone = await listen(closed)
  await new Promise<void>((done) => closed.close(() => done()))
  servers.splice(servers.indexOf(closed), 1)
  const refused = await client.leave(gone, 'b'.repeat(64), 'p1').catch((e: unknown) => e)
  expect((refused as DragonflyError).code).toBe('E_NO_SUPERNODE')
  expect((refused as DragonflyError).message).toMatch(/ECONNREFUSED/)
})

it('gives up on a server that never answers when the timeout passes, and on an answer no API sends', async () => {
  const silent = await listen(createNetServer((socket) => sockets.add(socket)))
  const $fetch = createFetch({ fetch: nodeApiFetch })
  const started = performance.now()
  const error = await $fetch(`${silent}${SUPERNODE_ROUTES.supernodes}`, { timeout: 300, retry: 0 }).catch((e: unknown) => e)
  expect((error as Error).name).toBe('FetchError')
  expect(String((error as Error).message)).toMatch(/timeout/i)
  expect(performance.now() - started).toBeLessThan(5_000)

  const odd = await listen(
    createNetServer((socket) => {
      sockets.add(socket)
      socket.once('data', () => socket.end('HTTP/1.1 700 Odd\r\ncontent-length: 2\r\n\r\n{}'))
    }),
  )
  const oddError = await client.supernodes(odd).catch((e: unknown) => e)
  expect((oddError as DragonflyError).code).toBe('E_NO_SUPERNODE')
}, 10_000)

it('refuses an answer longer than 64 MiB instead of holding it in memory', async () => {
  const base = await listen(
    createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      const block = Buffer.alloc(1024 * 1024, 0x20)
      let sent = 0
      const more = (): void => {
        while (sent < 80 && !res.destroyed) {
          sent++
          if (!res.write(block)) return void res.once('drain', more)
        }
        res.end()
      }
      res.on('error', () => {})
      more()
    }),
  )
  const error = await client.supernodes(base).catch((e: unknown) => e)
  expect((error as DragonflyError).code).toBe('E_NO_SUPERNODE')
  expect((error as DragonflyError).message).toMatch(/longer than 67108864 bytes/)
})
