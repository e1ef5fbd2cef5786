import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StubBlob {
  /** What the stub sends, whatever digest the URL names. */
  bytes: Buffer
  /** Bytes per second; 0 = unlimited. */
  rate?: number
  /** Required `authorization` value; without it the stub answers a 401 challenge. */
  auth?: string
}

export interface RegistryStub {
  host: string
  requests: { method: string; path: string; authorization?: string }[]
  /** When each blob GET finished sending its body (ms since epoch), by digest. */
  sent: Map<string, number>
  close(): Promise<void>
}

export const CHALLENGE = 'Bearer realm="http://auth.invalid/token",service="stub",scope="repository:private/img:pull"'

/** A registry that serves chosen bytes for chosen blob digests: throttled, wrong or behind auth. */
export async function startRegistryStub(blobs: Map<string, StubBlob>): Promise<RegistryStub> {
  const stub: RegistryStub = { host: '', requests: [], sent: new Map(), close: () => new Promise((r) => server.close(() => r())) }
  const server: Server = createServer((req, res) => {
    stub.requests.push({ method: req.method ?? '', path: req.url ?? '', authorization: req.headers.authorization })
    const m = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')
    const blob = m ? blobs.get(m[1]!) : undefined
    if (!blob) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }))
      return
    }
    if (blob.auth && req.headers.authorization !== blob.auth) {
      const body = JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] })
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': CHALLENGE, 'content-length': Buffer.byteLength(body) })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.bytes.length, 'docker-content-digest': m![1] })
    if (req.method === 'HEAD') return void res.end()
    const chunk = 64 * 1024
    let at = 0
    const next = (): void => {
      const part = blob.bytes.subarray(at, at + chunk)
      at += part.length
      res.write(part)
      // Done when the last bytes are written (a fast client may have them before another tick).
      if (at >= blob.bytes.length) {
        stub.sent.set(m![1]!, Date.now())
        return void res.end()
      }
      setTimeout(next, blob.rate ? (part.length / blob.rate) * 1000 : 0)
    }
    next()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  stub.host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return stub
}

export const digestOf = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`
