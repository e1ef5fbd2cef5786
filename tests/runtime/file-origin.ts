import { randomBytes } from 'node:crypto'
import { open, stat, writeFile } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { join } from 'node:path'

export interface FileOrigin {
  url: string
  size: number
  /** Body bytes sent over all requests: the source egress. */
  bytesServed: number
  requests: number
  /** Lets bodies past `holdAfter` flow (see options). */
  release(): void
  close(): Promise<void>
}

export interface FileOriginOptions {
  /** Bodies pause after this many bytes until `release()`; so a test can gather a swarm first. */
  holdAfter?: number
  /** Bytes per second once released; 0 = unlimited. */
  rate?: number
}

const CHUNK = 64 * 1024

export async function writeRandomFile(dir: string, size: number): Promise<string> {
  const path = join(dir, 'source.bin')
  await writeFile(path, randomBytes(size))
  return path
}

/** Serves one file at `/file.bin` on 127.0.0.1 over node:http, with Range and an ETag, counting every body byte. */
export async function startFileOrigin(path: string, options: FileOriginOptions = {}): Promise<FileOrigin> {
  const { size, mtimeMs } = await stat(path)
  let release!: () => void
  const released = options.holdAfter === undefined ? Promise.resolve() : new Promise<void>((done) => (release = done))
  const sockets = new Set<Socket>()

  const send = async (res: ServerResponse, start: number, end: number): Promise<void> => {
    const fh = await open(path, 'r')
    try {
      let sent = 0
      for (let at = start; at < end && !res.destroyed; ) {
        if (options.holdAfter !== undefined && sent >= options.holdAfter) await released
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, end - at))
        const { bytesRead } = await fh.read(buf, 0, buf.length, at)
        const chunk = buf.subarray(0, bytesRead)
        at += bytesRead
        sent += bytesRead
        origin.bytesServed += bytesRead
        if (!res.write(chunk)) await new Promise((done) => res.once('drain', done))
        if (options.rate && sent > (options.holdAfter ?? 0)) await new Promise((done) => setTimeout(done, (bytesRead / options.rate!) * 1000))
      }
      res.end()
    } finally {
      await fh.close()
    }
  }

  const server = createServer((req, res) => {
    origin.requests++
    if (req.url !== '/file.bin') return void res.writeHead(404).end()
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m ? Number(m[1]) : 0
    const end = m?.[2] ? Math.min(Number(m[2]) + 1, size) : size
    if (start >= size && m) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end()
    res.writeHead(m ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start),
      etag: `"${size}-${mtimeMs}"`,
      'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${start}-${end - 1}/${size}` } : {}),
    })
    if (req.method === 'HEAD') return void res.end()
    send(res, start, end).catch(() => res.destroy())
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  const origin: FileOrigin = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`,
    size,
    bytesServed: 0,
    requests: 0,
    release: () => release?.(),
    close: () =>
      new Promise((done) => {
        release?.()
        for (const socket of sockets) socket.destroy()
        server.close(() => done())
      }),
  }
  return origin
}
