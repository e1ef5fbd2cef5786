import { Buffer } from 'node:buffer'
import { ChunkedDecoder } from './http-head.ts'

/**
 * HTTP/1.1 request heads for a server reading its own sockets (Deno's,
 * `deno-http-server.ts`). Strict where leniency lets one request be read as
 * two (a body framed by both Transfer-Encoding and Content-Length, differing
 * lengths, folded lines, a space before a colon): such a head is refused, and
 * the connection closed after the answer.
 */

export interface RequestHead {
  method: string
  /** As sent: origin-form (`/path?q`), absolute-form (`http://host/path`), authority-form (CONNECT) or `*`. */
  target: string
  /** Name and value pairs in order, names lower-case. */
  headers: [string, string][]
  host: string | undefined
  http10: boolean
  keepAlive: boolean
  /** The request body: `remaining` bytes, or chunked. */
  framing: { kind: 'length'; remaining: number } | { kind: 'chunked'; decoder: ChunkedDecoder }
  /** `Expect: 100-continue`: the client waits for a 100 before it sends the body. */
  expectContinue: boolean
}

/** Why a head was refused, with the status to answer. */
export interface HeadRefusal {
  status: 400 | 431 | 501 | 505
  error: string
}

const CRLF2 = Buffer.from('\r\n\r\n')
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024
const MAX_HEADERS = 100
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Field values: visible ASCII and obs-text, with inner spaces and tabs; no control characters.
const VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/
// A host as a URL's authority carries it: a name or IPv4 address, or a bracketed IPv6 address, and a port.
const HOST_RE = /^(?:[A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/

// Longer than any method: "BASELINE-CONTROL" is 16.
const MAX_METHOD = 32

/**
 * Whether the first bytes of an incomplete head already cannot start a request line (a method token, then a
 * space): a TLS handshake sent to a plain-HTTP port, say. Refusing it at once lets a client that tries HTTPS
 * first (skopeo, podman) fall back to HTTP instead of waiting out its handshake timeout.
 */
export function refuseEarly(bytes: Uint8Array): HeadRefusal | null {
  let from = 0
  while (from < bytes.byteLength && (bytes[from] === 13 || bytes[from] === 10)) from++
  for (let i = from; i < bytes.byteLength && i - from <= MAX_METHOD; i++) {
    if (bytes[i] === 0x20 && i > from) return null
    if (TOKEN_RE.test(String.fromCharCode(bytes[i]!)) && i - from < MAX_METHOD) continue
    // 0x16: a TLS record of type handshake.
    return { status: 400, error: bytes[from] === 0x16 ? 'a TLS handshake on a plain-HTTP port' : 'not an HTTP request line' }
  }
  return null
}

/**
 * Parses the request head at the start of `bytes` (empty lines before it are skipped): null while it is
 * incomplete, a refusal, or the head and where its body starts.
 */
export function parseRequestHead(bytes: Buffer): null | HeadRefusal | { head: RequestHead; bodyStart: number } {
  let from = 0
  while (bytes[from] === 13 || bytes[from] === 10) from++
  const end = bytes.indexOf(CRLF2, from)
  if (end - from > MAX_REQUEST_HEAD_BYTES || (end < 0 && bytes.byteLength - from > MAX_REQUEST_HEAD_BYTES)) {
    return { status: 431, error: `request head is over ${MAX_REQUEST_HEAD_BYTES / 1024} KiB` }
  }
  if (end < 0) return null
  const lines = bytes.toString('latin1', from, end).split('\r\n')
  const line = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([!-~]+) HTTP\/(\d)\.(\d)$/.exec(lines[0]!)
  if (!line) return { status: 400, error: `bad request line ${JSON.stringify(lines[0]!.slice(0, 80))}` }
  if (line[3] !== '1') return { status: 505, error: `HTTP/${line[3]}.${line[4]} is not served here` }
  if (lines.length - 1 > MAX_HEADERS) return { status: 431, error: `over ${MAX_HEADERS} header lines` }
  const headers: [string, string][] = []
  const single = new Map<string, string>()
  for (const raw of lines.slice(1)) {
    const colon = raw.indexOf(':')
    const name = raw.slice(0, colon).toLowerCase()
    const value = raw.slice(colon + 1).trim()
    if (colon <= 0 || !TOKEN_RE.test(name) || !VALUE_RE.test(value)) return { status: 400, error: `bad header line ${JSON.stringify(raw.slice(0, 80))}` }
    if ((name === 'host' || name === 'content-length' || name === 'transfer-encoding') && single.has(name)) {
      // Repeated: one request could be framed two ways.
      return { status: 400, error: `more than one ${name} header` }
    }
    single.set(name, value)
    headers.push([name, value])
  }
  const http10 = line[4] === '0'
  const host = single.get('host')
  if (host !== undefined && !HOST_RE.test(host)) return { status: 400, error: `bad host ${JSON.stringify(host.slice(0, 80))}` }
  if (host === undefined && !http10) return { status: 400, error: 'an HTTP/1.1 request needs a host header' }
  const coding = single.get('transfer-encoding')
  const length = single.get('content-length')
  let framing: RequestHead['framing']
  if (coding !== undefined) {
    if (length !== undefined) return { status: 400, error: 'both transfer-encoding and content-length' }
    if (http10 || coding.toLowerCase() !== 'chunked') return { status: 501, error: `unsupported transfer-encoding ${JSON.stringify(coding.slice(0, 40))}` }
    framing = { kind: 'chunked', decoder: new ChunkedDecoder({ trailing: 'keep' }) }
  } else if (length !== undefined) {
    if (!/^\d{1,15}$/.test(length)) return { status: 400, error: `bad content-length ${JSON.stringify(length.slice(0, 40))}` }
    framing = { kind: 'length', remaining: Number(length) }
  } else {
    framing = { kind: 'length', remaining: 0 }
  }
  const connection = (single.get('connection') ?? '').toLowerCase()
  return {
    head: {
      method: line[1]!,
      target: line[2]!,
      headers,
      host,
      http10,
      keepAlive: http10 ? /\bkeep-alive\b/.test(connection) : !/\bclose\b/.test(connection),
      framing,
      expectContinue: (single.get('expect') ?? '').toLowerCase() === '100-continue',
    },
    bodyStart: end + 4,
  }
}
