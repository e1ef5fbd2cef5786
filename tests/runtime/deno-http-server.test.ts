import { type ChildProcess, spawn } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ChunkedDecoder, parseResponseHead } from '../../runtime/http-head.ts'
import { fixtureCommands } from '../helpers/runtime-fixture.ts'

// The Deno adapter's own HTTP/1.1 server (runtime/deno-http-server.ts) on Deno, spoken to over raw sockets
// the way curl, containerd and other peers speak: keep-alive, pipelining, request bodies by length and
// chunked, 100-continue, exact Content-Length cuts, chunked answers, HEAD, and every malformed or ambiguous
// head refused with a coded answer and a closed connection. Runs the sources (no build needed).

const MiB = 1024 * 1024
const byteAt = (i: number): number => (i * 7 + (i >> 12)) % 251
let child: ChildProcess
let port = 0

beforeAll(async () => {
  const [cmd, ...args] = fixtureCommands(join(import.meta.dirname, 'fixtures/deno-http-server.ts')).deno
  child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } })
  let out = ''
  port = await new Promise<number>((done, fail) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      const m = /\{"port":(\d+)\}/.exec(out)
      if (m) done(Number(m[1]))
    })
    child.stderr!.on('data', (d: Buffer) => (out += d))
    child.on('close', () => fail(new Error(`fixture exited: ${out}`)))
  })
}, 30_000)
afterAll(() => child?.kill('SIGKILL'))

interface Answer {
  status: number
  headers: Map<string, string>
  body: Buffer
}

/** Sends `bytes` on a new connection and reads `count` answers (HEAD answers have no body); then whether the server closed it. */
async function talk(bytes: string | Buffer, count: number, heads: number[] = []): Promise<{ answers: Answer[]; closed: boolean; rest: Buffer }> {
  const socket = connect(port, '127.0.0.1')
  let pending = Buffer.alloc(0)
  let closed = false
  let wake: (() => void) | undefined
  socket.on('data', (d: Buffer) => ((pending = Buffer.concat([pending, d])), wake?.()))
  socket.on('close', () => ((closed = true), wake?.()))
  socket.on('error', () => {})
  const more = (): Promise<void> =>
    closed ? Promise.reject(new Error(`closed with ${pending.byteLength} bytes unread`)) : new Promise((done) => (wake = done))
  socket.write(bytes)
  const answers: Answer[] = []
  while (answers.length < count) {
    let parsed = parseResponseHead(pending)
    while (parsed === null) {
      await more()
      parsed = parseResponseHead(pending)
    }
    if ('error' in parsed) throw new Error(parsed.error)
    const { head, bodyStart } = parsed
    pending = pending.subarray(bodyStart)
    let body = Buffer.alloc(0)
    if (heads.includes(answers.length)) {
      // A HEAD answer: no body whatever its Content-Length.
    } else if (head.framing.kind === 'length') {
      const length = head.framing.remaining
      while (pending.byteLength < length) await more()
      body = pending.subarray(0, length)
      pending = pending.subarray(length)
    } else if (head.framing.kind === 'chunked') {
      const decoder = new ChunkedDecoder({ trailing: 'keep' })
      const out: Uint8Array[] = []
      for (;;) {
        const error = decoder.push(pending, out)
        if (error) throw new Error(error)
        if (decoder.done) {
          pending = pending.subarray(decoder.endsAt)
          break
        }
        pending = Buffer.alloc(0)
        await more()
      }
      body = Buffer.concat(out)
    } else {
      while (!closed) await more().catch(() => {})
      body = pending
      pending = Buffer.alloc(0)
    }
    answers.push({ status: head.status, headers: head.headers, body })
  }
  // Whether the server closes the connection now (it keeps one it can reuse).
  await new Promise((done) => setTimeout(done, 150))
  socket.destroy()
  return { answers, closed, rest: pending }
}

const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}\r\n`
const json = (answer: Answer) => JSON.parse(answer.body.toString()) as { error?: { code: string; message: string } }

describe('the Deno adapter HTTP server', () => {
  it('answers pipelined requests on one kept-alive connection, in order, with bodies by length and chunked', async () => {
    const post = `POST /echo?x=1 HTTP/1.1\r\nHost: h.example:8080\r\nContent-Length: 5\r\n\r\nhello`
    const chunked = `PUT /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n`
    const { answers, closed, rest } = await talk(`${post}${chunked}${get('/stream')}${get('/head').replace('GET', 'HEAD')}${get('/cookies')}`, 5, [3])
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 204])
    expect(answers[0]!.body.toString()).toBe('hello')
    expect(answers[0]!.headers.get('x-url')).toBe('http://h.example:8080/echo?x=1')
    expect(answers[0]!.headers.get('x-remote')).toBe('127.0.0.1')
    expect([answers[1]!.headers.get('x-method'), answers[1]!.body.toString()]).toEqual(['PUT', 'abcdefg'])
    expect([answers[2]!.headers.get('transfer-encoding'), answers[2]!.body.toString()]).toEqual(['chunked', 'one\ntwo\n'])
    expect(answers[3]!.headers.get('content-length')).toBe('5')
    expect(answers[4]!.headers.get('set-cookie')).toBe('a=1, b=2')
    expect([closed, rest.byteLength]).toEqual([false, 0])
  })

  it('sends exactly the Content-Length of a longer byte stream, and whole bodies of other streams', async () => {
    const { answers, closed } = await talk(`${get('/big')}${get('/big-plain')}${get('/big')}`, 3)
    const expected = (n: number) => Buffer.from(new Uint8Array(n).map((_, i) => byteAt(i)))
    expect(answers.map((a) => a.body.byteLength)).toEqual([3 * MiB, 2 * MiB + 5, 3 * MiB])
    expect(answers[0]!.body.equals(expected(3 * MiB))).toBe(true)
    expect(answers[1]!.body.equals(expected(2 * MiB + 5))).toBe(true)
    expect(answers[2]!.body.equals(expected(3 * MiB))).toBe(true)
    expect(closed).toBe(false)
  })

  it('waits for 100-continue clients, honours Connection: close and HTTP/1.0, and takes absolute-form targets', async () => {
    const expect100 = await talk(`POST /echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n`, 1)
    expect(expect100.answers[0]!.status).toBe(100)
    const close = await talk(get('/echo', 'Connection: close\r\n'), 1)
    expect([close.answers[0]!.headers.get('connection'), close.closed]).toEqual(['close', true])
    const old = await talk('GET /stream HTTP/1.0\r\n\r\n', 1)
    expect([old.answers[0]!.body.toString(), old.closed]).toEqual(['one\ntwo\n', true])
    const proxy = await talk(`GET http://source.example/a/b?c HTTP/1.1\r\nHost: source.example\r\n\r\n`, 1)
    expect(proxy.answers[0]!.status).toBe(404)
    const absolute = await talk(`POST http://source.example:81/echo HTTP/1.1\r\nHost: source.example:81\r\nContent-Length: 0\r\n\r\n`, 1)
    expect(absolute.answers[0]!.headers.get('x-url')).toBe('http://source.example:81/echo')
  })

  it.each([
    ['a bad request line', 'GET /x\r\nHost: h\r\n\r\n', 400],
    ['a space before a colon', 'GET /x HTTP/1.1\r\nHost : h\r\n\r\n', 400],
    ['a folded header', 'GET /x HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n', 400],
    ['both framings', 'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', 400],
    ['two lengths', 'POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd', 400],
    ['no host in HTTP/1.1', 'GET /x HTTP/1.1\r\n\r\n', 400],
    ['a bad host', 'GET /x HTTP/1.1\r\nHost: a b\r\n\r\n', 400],
    ['a gzip transfer coding', 'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n', 501],
    ['HTTP/2 in a text head', 'GET /x HTTP/2.0\r\nHost: h\r\n\r\n', 505],
    ['CONNECT', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 501],
    ['a head over 16 KiB', `GET /x HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(17 * 1024)}\r\n\r\n`, 431],
    ['a bad chunk size', 'POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 500],
  ])('refuses %s with a coded answer and closes the connection', async (_what, bytes, status) => {
    const { answers, closed } = await talk(`${bytes}${get('/stream')}`, 1)
    expect(answers[0]!.status).toBe(status)
    expect(json(answers[0]!).error?.code).toMatch(/^E_(BAD_REQUEST|INTERNAL)$/)
    expect(closed).toBe(true)
  })

  it('reads a head that comes a byte at a time, and refuses 17 KiB of empty lines with no head after them', async () => {
    const socket = connect(port, '127.0.0.1')
    socket.setNoDelay(true)
    let got = ''
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')))
    for (const byte of get('/stream')) {
      socket.write(byte)
      await new Promise((done) => setTimeout(done, 2))
    }
    await vi.waitFor(() => expect(got).toContain('0\r\n\r\n'), { timeout: 5000 })
    socket.destroy()
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*one\n[\s\S]*two\n/)
    const blank = await talk('\r\n'.repeat(17 * 512), 1)
    expect([blank.answers[0]!.status, blank.closed]).toEqual([431, true])
  })

  it('refuses a TLS handshake and a line that is no request at once, so an HTTPS-first client falls back to HTTP', async () => {
    // What skopeo and podman try first on an insecure registry: before this, the head waited out its 60 s clock
    // and Go's 10 s handshake timeout made every pull through a Deno daemon 10 s slower.
    const started = Date.now()
    const failed = await new Promise<Error>((done) => {
      const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      socket.setTimeout(5000, () => (socket.destroy(), done(new Error('no answer in 5 s'))))
      socket.on('secureConnect', () => done(new Error('handshake completed')))
      socket.on('error', done)
    })
    expect(failed.message).not.toMatch(/no answer|completed/)
    expect(Date.now() - started, 'refused, not timed out').toBeLessThan(4000)
    const hello = await talk(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), 1)
    expect([hello.answers[0]!.status, json(hello.answers[0]!).error, hello.closed]).toEqual([
      400,
      { code: 'E_BAD_REQUEST', message: 'a TLS handshake on a plain-HTTP port' },
      true,
    ])
    const junk = await talk('GE\x00T / HTTP/1.1', 1)
    expect([junk.answers[0]!.status, json(junk.answers[0]!).error?.message, junk.closed]).toEqual([400, 'not an HTTP request line', true])
    // A method still arriving (no space yet) is waited for.
    const slow = await talk(`\r\n${get('/stream')}`, 1)
    expect(slow.answers[0]!.status).toBe(200)
  })

  it('answers a handler that throws with 500 E_INTERNAL and no stack, and a body that ends short by closing', async () => {
    const thrown = await talk(get('/throw'), 1)
    expect([thrown.answers[0]!.status, json(thrown.answers[0]!).error]).toEqual([500, { code: 'E_INTERNAL', message: 'internal error' }])
    expect(thrown.answers[0]!.body.toString()).not.toContain('secret')
    await expect(talk(get('/short'), 1)).rejects.toThrow(/closed with/)
  })

  it("aborts a request's signal when its client leaves, and tells afterResponse once each answer went out", async () => {
    const before = (await talk(get('/counts'), 1)).answers[0]!.body.toString()
    const socket = connect(port, '127.0.0.1')
    socket.write(get('/wait'))
    await new Promise((done) => setTimeout(done, 300))
    socket.destroy()
    await new Promise((done) => setTimeout(done, 300))
    const after = JSON.parse((await talk(get('/counts'), 1)).answers[0]!.body.toString()) as { aborted: number; afterResponses: number }
    const was = JSON.parse(before) as { aborted: number; afterResponses: number }
    expect(after.aborted).toBe(was.aborted + 1)
    // The /counts answer before, and the /wait answer that found no one to take it.
    expect(after.afterResponses).toBe(was.afterResponses + 2)
  })
})
