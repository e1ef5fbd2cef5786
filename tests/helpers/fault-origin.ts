import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** Decides how the origin answers request number `n` (0-based); return true when it handled the response itself. */
export type Fault = (n: number, req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean

export interface FaultOrigin {
  url: string
  bytes: number
  requests: { range?: string; ifRange?: string; ifNoneMatch?: string; ifModifiedSince?: string; status: number }[]
  /** Replace the served content (a new validator goes with it: an ETag, or a Last-Modified date in that mode). */
  setContent(body: Buffer, validator: string): void
  close(): Promise<void>
}

export const FIRST_LAST_MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT'

/**
 * An origin whose misbehaviour each test scripts: resets, 5xx, ignored Range, changed content. It validates
 * with an ETag (`"v1"` at first), or with `validator: 'last-modified'` only with a Last-Modified date, as
 * many plain file servers do.
 */
export async function startFaultOrigin(
  file: string,
  fault: Fault = () => false,
  options: { ranges?: boolean; validator?: 'etag' | 'last-modified' } = {},
): Promise<FaultOrigin> {
  let body: Buffer = await readFile(file)
  const byDate = options.validator === 'last-modified'
  let etag = byDate ? FIRST_LAST_MODIFIED : '"v1"'
  const validatorHeaders = (): Record<string, string> => (byDate ? { 'last-modified': etag } : { etag })
  let n = 0
  const origin: FaultOrigin = {
    url: '',
    bytes: 0,
    requests: [],
    setContent(next, tag) {
      body = next
      etag = tag
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
  const server = createServer((req, res) => {
    const record = {
      range: req.headers.range,
      ifRange: req.headers['if-range'] as string | undefined,
      ifNoneMatch: req.headers['if-none-match'],
      ifModifiedSince: req.headers['if-modified-since'],
      status: 0,
    }
    origin.requests.push(record)
    res.on('finish', () => (record.status = res.statusCode))
    if (fault(n++, req, res, body)) return
    if ((byDate ? req.headers['if-modified-since'] : req.headers['if-none-match']) === etag) {
      record.status = 304
      res.writeHead(304, validatorHeaders()).end()
      return
    }
    const m = options.ranges !== false && (!req.headers['if-range'] || req.headers['if-range'] === etag) ? /^bytes=(\d+)-$/.exec(req.headers.range ?? '') : null
    const start = m ? Number(m[1]) : 0
    const slice = body.subarray(start)
    res.writeHead(m ? 206 : 200, {
      'content-length': slice.length,
      ...validatorHeaders(),
      ...(m ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    })
    origin.bytes += slice.length
    res.end(slice)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  origin.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file`
  return origin
}

/** Sends the headers and `cut` bytes of the body, then drops the connection (FIN, so the bytes sent arrive first). */
export function resetAfter(cut: number, validator: Record<string, string> = { etag: '"v1"' }): Fault {
  return (_n, _req, res, body) => {
    res.writeHead(200, { 'content-length': body.length, ...validator })
    res.write(body.subarray(0, cut), () => res.socket?.end())
    return true
  }
}
