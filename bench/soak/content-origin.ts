import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

const BLOCK = 64 * 1024

export interface ContentOrigin {
  /** `http://127.0.0.1:<port>` */
  base: string
  /** A plain file URL for content `n` (the local API's and the proxy's downloads). */
  fileUrl(n: number, suffix?: string): string
  /** `sha256:<hex>` of content `n`; also makes `/v2/<name>/blobs/<digest>` answer with it. */
  digestOf(n: number): string
  /** Requests and body bytes served (the daemon's mirror probes with HEAD; the supernode GETs). */
  readonly requests: number
  readonly bytes: number
  close(): Promise<void>
}

/**
 * Any number of distinct contents of `size` bytes, made on the fly: content
 * `n` is one random 64 KiB block repeated, each copy stamped with `n` and its
 * place, so every content has its own digest and nothing is stored. Serves
 * `/files/<n>…` (Range understood) and, as a registry would,
 * `/v2/<name>/blobs/sha256:<hex>` (GET and HEAD) for every digest handed out.
 */
export async function startContentOrigin(size: number): Promise<ContentOrigin> {
  const base = randomBytes(BLOCK)
  const digests = new Map<number, string>()
  const byDigest = new Map<string, number>()
  let requests = 0
  let bytes = 0

  const contentOf = (n: number): Buffer => {
    const out = Buffer.allocUnsafe(size)
    for (let at = 0, i = 0; at < size; at += BLOCK, i++) {
      base.copy(out, at, 0, Math.min(BLOCK, size - at))
      if (size - at >= 8) {
        out.writeUInt32BE(n, at)
        out.writeUInt32BE(i, at + 4)
      }
    }
    return out
  }
  const digestOf = (n: number): string => {
    let d = digests.get(n)
    if (!d) {
      d = `sha256:${createHash('sha256').update(contentOf(n)).digest('hex')}`
      digests.set(n, d)
      byDigest.set(d, n)
    }
    return d
  }

  const server: Server = createServer((req, res) => {
    requests++
    const path = req.url ?? ''
    const file = /^\/files\/(\d+)[^/]*$/.exec(path)
    const blob = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(path)
    const n = file ? Number(file[1]) : blob ? byDigest.get(blob[1]!) : undefined
    if (n === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return void res.writeHead(404).end()
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const start = m ? Number(m[1]) : 0
    const end = m?.[2] ? Math.min(Number(m[2]), size - 1) : size - 1
    if (start > end) return void res.writeHead(416, { 'content-range': `bytes */${size}` }).end()
    res.writeHead(m ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      etag: `"${n}"`,
      ...(blob ? { 'docker-content-digest': blob[1] } : {}),
      ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
    })
    if (req.method === 'HEAD') return void res.end()
    bytes += end - start + 1
    res.end(contentOf(n).subarray(start, end + 1))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    base: origin,
    fileUrl: (n, suffix = '.bin') => `${origin}/files/${n}${suffix}`,
    digestOf,
    get requests() {
      return requests
    },
    get bytes() {
      return bytes
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
