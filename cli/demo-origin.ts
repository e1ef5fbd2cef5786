import { Hono } from 'hono'

const BLOCK = 64 * 1024

/** Block `i` of the demo content: xorshift32 seeded by the block index, so any range can be produced alone. */
function fillBlock(out: Uint32Array, index: number): void {
  let x = (index * 2654435761) ^ 0x9e3779b9 || 1
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x
  }
}

function contentStream(start: number, end: number, counter: { bytes: number }): ReadableStream<Uint8Array> {
  let at = start
  const words = new Uint32Array(BLOCK / 4)
  const bytes = new Uint8Array(words.buffer)
  return new ReadableStream({
    pull(controller) {
      if (at >= end) return controller.close()
      const block = Math.floor(at / BLOCK)
      fillBlock(words, block)
      const from = at - block * BLOCK
      const to = Math.min(BLOCK, end - block * BLOCK)
      const chunk = bytes.slice(from, to)
      at += chunk.byteLength
      counter.bytes += chunk.byteLength
      controller.enqueue(chunk)
    },
  })
}

export interface DemoOrigin {
  app: Hono
  /** Body bytes sent so far: the source egress. */
  stats: { bytes: number; requests: number }
}

/** An HTTP origin with `size` bytes of generated content at `/file.bin`, Range and ETag included. */
export function createDemoOrigin(size: number): DemoOrigin {
  const stats = { bytes: 0, requests: 0 }
  const app = new Hono()
  const etag = `"demo-${size}"`
  app.get('/file.bin', (c) => {
    stats.requests++
    const range = /^bytes=(\d+)-(\d*)$/.exec(c.req.header('range') ?? '')
    const start = range ? Number(range[1]) : 0
    const end = range?.[2] ? Math.min(Number(range[2]) + 1, size) : size
    if (range && start >= size) return c.body(null, 416, { 'content-range': `bytes */${size}` })
    const headers: Record<string, string> = {
      'content-type': 'application/octet-stream',
      'content-length': String(end - start),
      etag,
      'accept-ranges': 'bytes',
    }
    if (range) headers['content-range'] = `bytes ${start}-${end - 1}/${size}`
    return c.body(contentStream(start, end, stats), range ? 206 : 200, headers)
  })
  return { app, stats }
}
