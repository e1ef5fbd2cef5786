import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface BlobOrigin {
  /** `/blob/<i>`: a small blob of its own content per number; `/slow`: `slowBytes` sent at `slowRate` bytes/s. */
  url(path: string): string
  /** Body bytes sent, over all requests. */
  readonly bytes: number
  close(): Promise<void>
}

/** An origin of many small distinct blobs (the preheated tasks) and one slow large one (the failover run). */
export async function startBlobOrigin(options: { blobBytes: number; slowBytes: number; slowRate: number }): Promise<BlobOrigin> {
  let bytes = 0
  const server: Server = createServer((req, res) => {
    const path = req.url ?? ''
    if (path.startsWith('/blob/')) {
      const seed = createHash('sha256').update(path).digest()
      const body = Buffer.alloc(options.blobBytes)
      for (let at = 0; at < body.length; at += seed.length) seed.copy(body, at)
      bytes += body.length
      res.writeHead(200, { 'content-length': body.length, etag: `"${seed.toString('hex', 0, 8)}"` }).end(body)
      return
    }
    if (path === '/slow') {
      res.writeHead(200, { 'content-length': options.slowBytes, etag: '"slow"' })
      const chunk = Buffer.alloc(64 * 1024, 7)
      let sent = 0
      const timer = setInterval(
        () => {
          const n = Math.min(chunk.length, options.slowBytes - sent)
          sent += n
          bytes += n
          res.write(chunk.subarray(0, n))
          if (sent >= options.slowBytes) {
            clearInterval(timer)
            res.end()
          }
        },
        (chunk.length / options.slowRate) * 1000,
      )
      res.on('close', () => clearInterval(timer))
      return
    }
    res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: (path) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    get bytes() {
      return bytes
    },
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  }
}
