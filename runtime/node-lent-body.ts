import type { ServerResponse } from 'node:http'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import type { LentBody } from '../core/contract/serve.ts'

/**
 * `ServeBindings.sendLent` on Node: writes the head, then each chunk with
 * `write(chunk, callback)`. Node calls the callback once the chunk went to
 * the kernel, or with an error once the connection is gone; the chunk is
 * released then and not before. A full socket buffer (`write` returning
 * false) pauses the reading until 'drain'. Measured through the daemon's
 * proxy (512 MiB from a warm supernode, bench/README.md): a fresh 1 MiB
 * buffer per chunk kept V8's major GC busy, ~25 % of the daemon's CPU.
 */
export function sendLent(out: ServerResponse, status: number, headers: Headers, body: LentBody): Response {
  const head: Record<string, string> = {}
  headers.forEach((value, name) => {
    head[name] = value
  })
  out.writeHead(status, head)
  // Gone before the body ended: whatever the reader waits for (a piece, the verdict) need not come.
  out.once('close', () => body.cancel())
  void pump(out, body)
  // @hono/node-server leaves a response alone when the handler answers with this one.
  return RESPONSE_ALREADY_SENT
}

async function pump(out: ServerResponse, body: LentBody): Promise<void> {
  const iterator = body.chunks[Symbol.asyncIterator]()
  try {
    for (;;) {
      if (out.destroyed) return
      const next = await iterator.next()
      if (next.done) break
      const chunk = next.value
      if (!out.write(chunk, () => body.release(chunk)) && !out.destroyed) await drained(out)
    }
    out.end()
  } catch (error) {
    // A body that fails (the download did) cuts the answer short of its Content-Length, as a stream's error does.
    out.destroy(error instanceof Error ? error : new Error(String(error)))
  } finally {
    // The reader is done either way: its pending wait (a piece, the verdict) ends.
    await iterator.return?.().catch(() => {})
  }
}

function drained(out: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done)
      out.off('close', done)
      resolve()
    }
    out.on('drain', done)
    out.on('close', done)
  })
}
