import { request } from 'node:http'
import type { LentBody } from '../../core/contract/serve.ts'

// A body of lent chunks (ServeBindings.sendLent) that reads every chunk into one of two buffers and scribbles
// over a buffer the moment it is given back: a chunk released before the kernel had it reaches the client
// scribbled. Used by the Node test (tests/unit/lent-body.test.ts) and the Deno server's fixture.

export const CHUNK = 256 * 1024
export const CHUNKS = 48

export const pattern = (i: number): number => (i * 7 + 1) & 0xff

export function scribblingBody(): LentBody & { released: number; handedOut: number; cancelled: boolean } {
  const free: Uint8Array[] = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)]
  const waiting: (() => void)[] = []
  const state = { released: 0, handedOut: 0, cancelled: false }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < CHUNKS && !state.cancelled; i++) {
      while (free.length === 0) await new Promise<void>((resolve) => waiting.push(resolve))
      const buffer = free.pop()!
      buffer.fill(pattern(i))
      state.handedOut++
      yield buffer
    }
  }
  return Object.assign(state, {
    chunks: chunks(),
    release(chunk: Uint8Array) {
      state.released++
      chunk.fill(0xee)
      free.push(chunk)
      waiting.shift()?.()
    },
    cancel() {
      state.cancelled = true
    },
  })
}

/** GETs `path` reading slowly (a few ms per read: the server's socket buffer fills and its writes wait). */
export function readSlowly(port: number, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`))
      const parts: Buffer[] = []
      res.on('data', (part: Buffer) => {
        parts.push(part)
        res.pause()
        setTimeout(() => res.resume(), 2)
      })
      res.on('end', () => resolve(Buffer.concat(parts)))
      res.on('error', reject)
    })
    req.on('error', reject).end()
  })
}

/** GETs `path` and goes away once over `bytes` arrived; resolves when the connection is closed. */
export function leaveAfter(port: number, path: string, bytes: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let got = 0
      res.on('data', (part: Buffer) => {
        got += part.byteLength
        if (got > bytes) req.destroy()
      })
      res.on('close', () => resolve())
    })
    req.on('error', () => resolve()).end()
    setTimeout(() => reject(new Error('the client did not close')), 10_000)
  })
}

/** Throws unless `received` is the scribbling body's content, chunk by chunk. */
export function expectPattern(received: Buffer): void {
  if (received.byteLength !== CHUNK * CHUNKS) throw new Error(`got ${received.byteLength} bytes, not ${CHUNK * CHUNKS}`)
  for (let i = 0; i < CHUNKS; i++) {
    if (!received.subarray(i * CHUNK, (i + 1) * CHUNK).every((b) => b === pattern(i))) throw new Error(`chunk ${i} differs (given back before it was sent?)`)
  }
}
