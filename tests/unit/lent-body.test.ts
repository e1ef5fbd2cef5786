import { request } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import type { LentBody, ServeBindings, ServerHandle } from '../../core/contract/serve.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { CHUNK, CHUNKS, expectPattern, leaveAfter, readSlowly, scribblingBody } from '../helpers/scribbling-body.ts'

// Node's sendLent gives a chunk back only once the kernel has it. The body here reads every chunk into one
// of two buffers and scribbles over a buffer the moment it is given back: a chunk released too early would
// reach the client scribbled. The client reads slowly, so the server's socket fills and writes wait for 'drain'.

/** A server that answers each request with the next of `bodies`. */
async function serveLent(bodies: LentBody[]): Promise<{ server: ServerHandle; bindingsHadSendLent: Promise<boolean> }> {
  let told: (had: boolean) => void = () => {}
  const bindingsHadSendLent = new Promise<boolean>((resolve) => (told = resolve))
  const server = await nodeRuntime.serve(
    (_request, bindings?: ServeBindings) => {
      told(bindings?.sendLent !== undefined)
      const headers = new Headers({ 'content-type': 'application/octet-stream', 'content-length': String(CHUNK * CHUNKS) })
      return bindings!.sendLent!(200, headers, bodies.shift()!)
    },
    { port: 0, hostname: '127.0.0.1' },
  )
  return { server, bindingsHadSendLent }
}

let open: ServerHandle | undefined
afterEach(async () => {
  await open?.close()
  open = undefined
})

describe('Node: a body of lent chunks (ServeBindings.sendLent)', () => {
  it('reaches a slow client byte for byte, each chunk given back once and only after it was sent', async () => {
    const body = scribblingBody()
    const { server, bindingsHadSendLent } = await serveLent([body])
    open = server
    const received = await readSlowly(server.port, '/')
    expect(await bindingsHadSendLent).toBe(true)
    expectPattern(received)
    expect(body.handedOut).toBe(CHUNKS)
    expect(body.released).toBe(CHUNKS)
  })

  it('a client that goes away mid-body: the body is told, every chunk handed out comes back, the server serves on', async () => {
    const body = scribblingBody()
    const again = scribblingBody()
    const { server } = await serveLent([body, again])
    open = server
    await leaveAfter(server.port, '/', 3 * CHUNK)
    await expect.poll(() => body.cancelled, { timeout: 5_000 }).toBe(true)
    await expect.poll(() => body.released, { timeout: 5_000 }).toBe(body.handedOut)
    expect(body.handedOut).toBeLessThan(CHUNKS)
    // The same server answers the next request whole.
    const length = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port: server.port, path: '/' }, (res) => {
        let n = 0
        res.on('data', (part: Buffer) => (n += part.byteLength))
        res.on('end', () => resolve(n))
      })
        .on('error', reject)
        .end()
    })
    expect(length).toBe(CHUNK * CHUNKS)
    expect(again.released).toBe(CHUNKS)
  })
})
