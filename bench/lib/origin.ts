import { createReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Transform } from 'node:stream'
import { RateLimiter } from '../../core/transfer/rate-limit.ts'

const MiB = 1024 * 1024

/** Writes `bytes` of incompressible content (a random 64 KiB block, numbered per MiB) to `path`. */
export async function writeBenchFile(path: string, bytes: number): Promise<void> {
  const block = new Uint8Array(MiB)
  crypto.getRandomValues(block.subarray(0, 65536))
  for (let i = 65536; i < MiB; i += 65536) block.copyWithin(i, 0, 65536)
  const fh = await open(path, 'w')
  try {
    for (let at = 0; at < bytes; at += MiB) {
      new DataView(block.buffer).setUint32(0, at / MiB)
      await fh.write(block, 0, Math.min(MiB, bytes - at))
    }
  } finally {
    await fh.close()
  }
}

export interface BenchOrigin {
  url: string
  /** Body bytes sent, over all requests. */
  readonly bytes: number
  requests: number
  close(): Promise<void>
}

/** Where the origin listens. */
export interface OriginListen {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free one. @default 0 */
  port?: number
}

/**
 * Serves one file (Range and ETag supported), counting body bytes. With
 * `rate` (bytes/s) all responses together are paced to it, like one uplink:
 * a response waits until the link's schedule has room.
 */
export async function startBenchOrigin(file: string, rate = 0, listen: OriginListen = {}): Promise<BenchOrigin> {
  const host = listen.host ?? '127.0.0.1'
  const { size } = await stat(file)
  const etag = `"bench-${size}"`
  let bytes = 0
  let requests = 0
  // The uplink is paced by the limiter the peers and the supernode use for theirs (the same bucket, the same
  // burst credit). A bare timer per chunk lost its lateness for good: on two busy cores 32 peers' source
  // fetch ran at ~92 % of the rate, and the whole swarm waits on it.
  const link = rate ? new RateLimiter(rate) : undefined
  const server: Server = createServer((req, res) => {
    requests++
    if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end()
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m ? Number(m[1]) : 0
    const end = m?.[2] ? Math.min(Number(m[2]), size - 1) : size - 1
    res.writeHead(m ? 206 : 200, {
      'content-length': end - start + 1,
      etag,
      'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    })
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytes += chunk.length
        if (!link) return done(null, chunk)
        link.take(chunk.length).then(() => done(null, chunk), done)
      },
    })
    createReadStream(file, { start, end, highWaterMark: 64 * 1024 })
      .pipe(meter)
      .pipe(res)
    res.on('close', () => meter.destroy())
  })
  await new Promise<void>((resolve) => server.listen(listen.port ?? 0, host, resolve))
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}/file.bin`,
    get bytes() {
      return bytes
    },
    get requests() {
      return requests
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
