import { Buffer } from 'node:buffer'

/**
 * HTTP/1.1 response heads and body framing, for the socket piece client:
 * only what a piece response needs (status, headers, Content-Length,
 * chunked, close-delimited), strict about everything else.
 */

export type BodyFraming = { kind: 'length'; remaining: number } | { kind: 'chunked'; decoder: ChunkedDecoder } | { kind: 'close' }

export interface ResponseHead {
  status: number
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Map<string, string>
  keepAlive: boolean
  framing: BodyFraming
}

const CRLF2 = Buffer.from('\r\n\r\n')
const MAX_HEAD_BYTES = 16 * 1024
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** A piece GET's request head; a header with a line break is refused (it would split the request). */
export function requestHead(path: string, host: string, headers: Record<string, string> = {}): string {
  let head = `GET ${path} HTTP/1.1\r\nhost: ${host}\r\n`
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) throw new TypeError(`header ${JSON.stringify(name)} has a line break`)
    head += `${name}: ${value}\r\n`
  }
  return `${head}\r\n`
}

/** Parses the head at the start of `bytes`: null while incomplete, else the head and where the body starts. */
export function parseResponseHead(bytes: Buffer): null | { error: string } | { head: ResponseHead; bodyStart: number } {
  const end = bytes.indexOf(CRLF2)
  if (end > MAX_HEAD_BYTES || (end < 0 && bytes.byteLength > MAX_HEAD_BYTES)) return { error: `response head is over ${MAX_HEAD_BYTES / 1024} KiB` }
  if (end < 0) return null
  const lines = bytes.toString('latin1', 0, end).split('\r\n')
  const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!)
  if (!status) return { error: `bad status line ${JSON.stringify(lines[0]!.slice(0, 80))}` }
  const headers = new Map<string, string>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).toLowerCase()
    if (colon <= 0 || !TOKEN_RE.test(name)) return { error: `bad header line ${JSON.stringify(line.slice(0, 80))}` }
    const value = line.slice(colon + 1).trim()
    const seen = headers.get(name)
    headers.set(name, seen === undefined ? value : `${seen}, ${value}`)
  }
  const code = Number(status[2])
  const http10 = status[1] === '0'
  const connection = (headers.get('connection') ?? '').toLowerCase()
  let keepAlive = http10 ? /\bkeep-alive\b/.test(connection) : !/\bclose\b/.test(connection)
  const coding = headers.get('transfer-encoding')
  const length = headers.get('content-length')
  let framing: BodyFraming
  if (code === 204 || code === 304 || code < 200) framing = { kind: 'length', remaining: 0 }
  else if (coding !== undefined) {
    if (!/(^|,)\s*chunked\s*$/i.test(coding)) return { error: `unsupported transfer-encoding ${JSON.stringify(coding)}` }
    framing = { kind: 'chunked', decoder: new ChunkedDecoder() }
  } else if (length !== undefined) {
    // Repeated identical values arrive joined ("5, 5").
    const values = new Set(length.split(',').map((v) => v.trim()))
    const only = [...values][0]!
    if (values.size !== 1 || !/^\d{1,15}$/.test(only)) return { error: `bad content-length ${JSON.stringify(length)}` }
    framing = { kind: 'length', remaining: Number(only) }
  } else {
    framing = { kind: 'close' }
    keepAlive = false
  }
  return { head: { status: code, headers, keepAlive, framing }, bodyStart: end + 4 }
}

/**
 * For a client reading a body straight into `into`: how long the body is and
 * the bytes of it that came with the head (in `bytes`, after it), or why it cannot be read that way
 * (no Content-Length, or more than `into` holds).
 */
export function inPlaceBody(
  parsed: { head: ResponseHead; bodyStart: number },
  bytes: Uint8Array,
  into: Uint8Array,
): { error: string } | { length: number; early: Uint8Array } {
  const { framing, status } = parsed.head
  if (framing.kind !== 'length' || framing.remaining > into.byteLength) return { error: `answered ${status} without a Content-Length that fits the piece` }
  const early = bytes.subarray(parsed.bodyStart)
  if (early.byteLength > framing.remaining) return { error: 'sent more than its Content-Length' }
  return { length: framing.remaining, early }
}

/** Decodes a chunked body incrementally; `push` returns an error message when the framing is broken. */
export class ChunkedDecoder {
  done = false
  /** Once done: where the body ended in the bytes last pushed (what follows is the next message's, with `trailing: 'keep'`). */
  endsAt = 0
  private readonly trailing: 'error' | 'keep'
  private state: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size'
  private line = ''
  private left = 0

  /** `trailing`: bytes after the body are an error (a response read to its end), or kept for the next request. */
  constructor(options: { trailing?: 'error' | 'keep' } = {}) {
    this.trailing = options.trailing ?? 'error'
  }

  push(bytes: Uint8Array, out: Uint8Array[]): string | undefined {
    let at = 0
    while (at < bytes.byteLength && !this.done) {
      if (this.state === 'data') {
        const take = Math.min(this.left, bytes.byteLength - at)
        out.push(bytes.subarray(at, at + take))
        at += take
        this.left -= take
        if (this.left === 0) this.state = 'data-crlf'
        continue
      }
      // Line states: collect up to LF.
      const lf = bytes.indexOf(10, at)
      const upto = lf < 0 ? bytes.byteLength : lf
      this.line += Buffer.from(bytes.buffer, bytes.byteOffset + at, upto - at).toString('latin1')
      if (this.line.length > 1024) return 'chunk line over 1 KiB'
      if (lf < 0) return undefined
      at = lf + 1
      const line = this.line.replace(/\r$/, '')
      this.line = ''
      if (this.state === 'data-crlf') {
        if (line !== '') return 'missing CRLF after chunk data'
        this.state = 'size'
      } else if (this.state === 'size') {
        const size = /^([0-9a-fA-F]{1,12})(?:;.*)?$/.exec(line)
        if (!size) return `bad chunk size line ${JSON.stringify(line.slice(0, 40))}`
        this.left = Number.parseInt(size[1]!, 16)
        this.state = this.left === 0 ? 'trailer' : 'data'
      } else if (line === '') {
        this.done = true
      }
    }
    this.endsAt = at
    if (this.done && at < bytes.byteLength && this.trailing === 'error') return 'bytes after the chunked body'
    return undefined
  }
}
