import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Transform } from 'node:stream'

export interface OriginOptions {
  /** Bytes per second; 0 = unlimited. */
  rate?: number
  /** Required value of the `authHeader` header, if any. */
  auth?: string
  /** Which request header carries the credential. @default 'authorization' */
  authHeader?: 'authorization' | 'cookie' | 'proxy-authorization'
}

export interface Origin {
  url(path?: string): string
  /** Body bytes sent, over all requests. */
  bytes: number
  requests: { path: string; headers: Record<string, string | string[] | undefined> }[]
  close(): Promise<void>
}

/** An HTTP origin that serves one file at `/file`, counts every body byte, and supports Range and ETag. */
export async function startOrigin(file: string, options: OriginOptions = {}): Promise<Origin> {
  const info = await stat(file)
  const etag = `"${info.size}-${info.mtimeMs}"`
  const origin: Origin = {
    url: (path = '/file') => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    bytes: 0,
    requests: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
  const server: Server = createServer((req, res) => {
    origin.requests.push({ path: req.url ?? '', headers: req.headers })
    if (options.auth && req.headers[options.authHeader ?? 'authorization'] !== options.auth) {
      res.writeHead(401).end('unauthorized')
      return
    }
    if (!req.url?.startsWith('/file')) {
      res.writeHead(404).end('not found')
      return
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end()
      return
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m ? Number(m[1]) : 0
    const end = m?.[2] ? Number(m[2]) : info.size - 1
    if (start >= info.size || end < start) {
      res.writeHead(416, { 'content-range': `bytes */${info.size}` }).end()
      return
    }
    res.writeHead(m ? 206 : 200, {
      'content-length': end - start + 1,
      etag,
      'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${start}-${end}/${info.size}` } : {}),
    })
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        origin.bytes += chunk.length
        if (!options.rate) return done(null, chunk)
        setTimeout(() => done(null, chunk), (chunk.length / options.rate) * 1000)
      },
    })
    createReadStream(file, { start, end, highWaterMark: 64 * 1024 })
      .pipe(counter)
      .pipe(res)
    res.on('close', () => counter.destroy())
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return origin
}
