import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import sourceHttp from '../../plugins/source-http/index.ts'
import { testSource } from '../../testing/index.ts'
import { tempDir } from '../helpers/cli.ts'
import { optionError } from '../helpers/option-error.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'

let origin: Origin
let slow: Origin
let content: Buffer
beforeAll(async () => {
  const dir = await tempDir()
  content = randomBytes(300_000)
  await writeFile(join(dir, 'blob'), content)
  origin = await startOrigin(join(dir, 'blob'))
  slow = await startOrigin(join(dir, 'blob'), { rate: 100_000 })
})
afterAll(async () => {
  await origin?.close()
  await slow?.close()
})

/** A signal that counts the abort listeners added to it and removed from it. */
function countedSignal() {
  const controller = new AbortController()
  const { signal } = controller
  const listeners = { added: 0, removed: 0 }
  const add = signal.addEventListener.bind(signal)
  const remove = signal.removeEventListener.bind(signal)
  signal.addEventListener = (...args: Parameters<typeof add>) => (listeners.added++, add(...args))
  signal.removeEventListener = (...args: Parameters<typeof remove>) => (listeners.removed++, remove(...args))
  return { controller, signal, listeners }
}

describe('source-http', () => {
  it('passes testSource against a real origin', async () => {
    await testSource(sourceHttp(), { url: origin.url(), content, missingUrl: origin.url('/missing') })
  })

  it("adds the headers option to every request; the user's own headers win", async () => {
    const { source } = sourceHttp({ headers: { 'x-team': 'infra', 'user-agent': 'dragonfly-test' } })
    const before = origin.requests.length
    const r = await source.fetch({ url: origin.url(), headers: { 'user-agent': 'mine' }, method: 'HEAD' })
    expect(r.status).toBe(200)
    expect(origin.requests[before]?.headers).toMatchObject({ 'x-team': 'infra', 'user-agent': 'mine' })
  })

  it('gives up with E_SOURCE_UNREACHABLE when no response headers arrive within headersTimeoutMs', async () => {
    const sockets: Socket[] = []
    const silent = createServer((socket) => void sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}/f`
    try {
      const started = Date.now()
      await expect(sourceHttp({ headersTimeoutMs: 300 }).source.fetch({ url, headers: {} })).rejects.toMatchObject({
        code: 'E_SOURCE_UNREACHABLE',
        message: expect.stringContaining('no response headers in time'),
      })
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  // The supernode and the daemon hand every source fetch their own long-lived signal: nothing may stay on it.
  it("follows the caller's signal only while a fetch and its body run", async () => {
    const { source } = sourceHttp()
    const caller = countedSignal()
    for (let i = 0; i < 5; i++) {
      const whole = await source.fetch({ url: origin.url(), headers: {}, signal: caller.signal })
      expect(Buffer.from(await whole.arrayBuffer()).equals(content)).toBe(true)
      await source.fetch({ url: origin.url(), headers: {}, method: 'HEAD', signal: caller.signal })
      const dropped = await source.fetch({ url: origin.url(), headers: {}, signal: caller.signal })
      await dropped.body?.cancel()
      await source.fetch({ url: origin.url('/missing'), headers: {}, signal: caller.signal }).then((r) => r.body?.cancel())
    }
    expect(caller.listeners.added).toBe(20)
    expect(caller.listeners.removed).toBe(20)
    // An abort while the body is still coming stops it.
    const running = await source.fetch({ url: slow.url(), headers: {}, signal: caller.signal })
    const reader = running.body!.getReader()
    await reader.read()
    caller.controller.abort()
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return 'ended'
      })(),
    ).rejects.toBeDefined()
    expect(caller.listeners.removed).toBe(21)
  })

  it('refuses misspelt and mistyped options', () => {
    expect(optionError(() => sourceHttp({ headerTimeoutMs: 1000 } as never))).toMatch(
      /^source-http: unknown option `headerTimeoutMs` \(did you mean `headersTimeoutMs`\?\)/,
    )
    expect(optionError(() => sourceHttp({ timeout: 1000 } as never))).toBe('source-http: unknown option `timeout`; known: headersTimeoutMs, headers')
    expect(optionError(() => sourceHttp({ headersTimeoutMs: '30s' } as never))).toBe('source-http: option `headersTimeoutMs` must be a number, got a string')
    expect(optionError(() => sourceHttp({ headers: { 'x-n': 1 } } as never))).toBe('source-http: option `headers.x-n` must be a string, got 1')
  })
})
