import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { fetchPieceGet } from '../../core/contract/piece-get.ts'
import { ParentSet } from '../../core/peer/parent-set.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { createPieceRoutes, type ServedTask } from '../../core/transfer/piece-server.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { socketPieceGet } from '../../runtime/node-piece-socket.ts'
import { useTestServers } from '../helpers/test-servers.ts'

const { servers } = useTestServers()
const TASK = 'a'.repeat(64)
const PIECES = 6

/** A task whose verified pieces the test adds; counts the map's waiters (each stream holds one while it waits). */
function growingTask() {
  const have = new Bitset(PIECES)
  const waiters = new Set<() => void>()
  const task: ServedTask = {
    layout: createPieceLayout(PIECES * 256 * 1024, 256 * 1024),
    storage: {} as ServedTask['storage'],
    has: (n) => have.has(n),
    held: () => have,
    changed: (signal) =>
      new Promise<void>((resolve) => {
        const done = (): void => {
          waiters.delete(done)
          signal.removeEventListener('abort', done)
          resolve()
        }
        waiters.add(done)
        signal.addEventListener('abort', done, { once: true })
      }),
  }
  const add = (n: number): void => {
    have.set(n)
    for (const wake of [...waiters]) wake()
  }
  return { task, add, waiting: () => waiters.size, have }
}

async function serveTask(task: ServedTask): Promise<{ url: string; close(): Promise<void> }> {
  const routes = createPieceRoutes({ lookup: (id) => (id === TASK ? task : undefined) })
  const server = await nodeRuntime.serve(routes.fetch, { port: 0, hostname: '127.0.0.1' })
  return { url: `http://127.0.0.1:${server.port}`, close: server.close }
}

async function* lines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<{ count: number; have: string }> {
  let pending = ''
  for await (const chunk of chunks) {
    pending += Buffer.from(chunk).toString('utf8')
    for (let at = pending.indexOf('\n'); at >= 0; at = pending.indexOf('\n')) {
      yield JSON.parse(pending.slice(0, at))
      pending = pending.slice(at + 1)
    }
  }
}

describe('piece map stream (GET /pieces/:taskId?stream=1) on a real socket', () => {
  it('sends a line per change, the whole map each time, and ends once the map is full', async () => {
    const { task, add } = growingTask()
    const srv = await serveTask(task)
    try {
      const response = await socketPieceGet(`${srv.url}/pieces/${TASK}?after=-1&wait=20000&stream=1`, { signal: AbortSignal.timeout(15_000) })
      expect(response.status).toBe(200)
      expect(response.header('content-type')).toBe('application/x-ndjson')
      const seen: number[] = []
      const started = Date.now()
      for await (const line of lines(response.chunks)) {
        seen.push(line.count)
        const map = Bitset.fromBase64(PIECES, line.have)
        expect(map.count).toBe(line.count)
        // The next piece only once this line is read: each change makes its own line.
        if (line.count < PIECES) add(line.count)
      }
      expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6])
      // It ended because the map was full, long before the 20 s it was allowed.
      expect(Date.now() - started).toBeLessThan(10_000)
    } finally {
      await srv.close()
    }
  })

  it('stops waiting for changes when the reader goes away', async () => {
    const { task, waiting } = growingTask()
    const srv = await serveTask(task)
    try {
      const reader = new AbortController()
      const response = await socketPieceGet(`${srv.url}/pieces/${TASK}?after=0&wait=20000&stream=1`, { signal: reader.signal })
      expect(response.status).toBe(200)
      // Positive control: the open stream holds a wait on the task.
      await expect.poll(waiting, { timeout: 5_000 }).toBe(1)
      reader.abort()
      await expect.poll(waiting, { timeout: 5_000 }).toBe(0)
    } finally {
      await srv.close()
    }
  })

  it('a ParentSet learns a parent’s new pieces from its stream, through socketPieceGet and through fetch', async () => {
    for (const stream of [socketPieceGet, fetchPieceGet]) {
      const { task, add } = growingTask()
      const srv = await serveTask(task)
      let changes = 0
      const parents = new ParentSet({ taskId: TASK, pieceCount: PIECES, headers: () => ({}), onChange: () => changes++, stream })
      try {
        parents.update([{ id: 'p1', address: srv.url }])
        add(2)
        await expect.poll(() => parents.links.get('p1')?.have.has(2), { timeout: 5_000 }).toBe(true)
        add(4)
        await expect.poll(() => parents.availability[4], { timeout: 5_000 }).toBe(1)
        expect(parents.availability[3]).toBe(0)
        expect(changes).toBeGreaterThanOrEqual(2)
      } finally {
        parents.close()
        await srv.close()
      }
    }
  })

  it('a ParentSet still learns from a parent that answers the map as one long-poll (no stream support)', async () => {
    const have = new Bitset(PIECES)
    have.set(1)
    have.set(5)
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: have.count, have: have.toBase64() }))
    })
    servers.push(server)
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    const parents = new ParentSet({ taskId: TASK, pieceCount: PIECES, headers: () => ({}), onChange: () => {}, stream: socketPieceGet })
    try {
      parents.update([{ id: 'old', address: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }])
      await expect.poll(() => parents.links.get('old')?.have.count, { timeout: 5_000 }).toBe(2)
      expect(parents.availability[5]).toBe(1)
    } finally {
      parents.close()
    }
  })
  it('a ParentSet asks a parent for its map only while it knows of no piece to take from it', async () => {
    const have = new Bitset(PIECES)
    have.set(0)
    let requests = 0
    const server = createServer((_req, res) => {
      requests++
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: have.count, have: have.toBase64() }))
    })
    servers.push(server)
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    let work = false
    const parents = new ParentSet({ taskId: TASK, pieceCount: PIECES, headers: () => ({}), onChange: () => {}, knowsWork: () => work })
    try {
      parents.update([{ id: 'p', address: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }])
      // Nothing known to take: it asks, and again after each answer (200 ms apart).
      await expect.poll(() => requests, { timeout: 5_000 }).toBeGreaterThanOrEqual(3)
      work = true
      await new Promise((r) => setTimeout(r, 500))
      const before = requests
      await new Promise((r) => setTimeout(r, 1_500))
      expect(requests - before).toBe(0)
      work = false
      await expect.poll(() => requests, { timeout: 5_000 }).toBeGreaterThan(before)
    } finally {
      parents.close()
    }
  })
})
