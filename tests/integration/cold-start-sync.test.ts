import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { randomFile, sha256File, tempDir } from '../helpers/cli.ts'
import { serveSupernode, startPeer } from '../helpers/swarm.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** What a sync asked: whether it was a long-poll (`wait`), when it left, and when its answer came. */
interface SeenSync {
  wait: boolean
  sentAt: number
  answeredAt?: number
}

async function syncBody(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<{ wait?: boolean }> {
  if (typeof init?.body === 'string') return JSON.parse(init.body)
  if (input instanceof Request) return (await input.clone().json()) as { wait?: boolean }
  return {}
}

it('a cold task: after a first answer with no digest yet the peer long-polls at once instead of waiting out the dry spacing', async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 4 * 1024 * 1024)
  const size = (await stat(file)).size
  // The origin answers its headers at once and holds the body until the test lets it go: the supernode knows the
  // task's length but no piece digest, so the peer's first sync can only come back empty.
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const fallback = setTimeout(() => release(), 5_000)
  const origin = createServer((req, res) => {
    res.writeHead(200, { 'content-length': size, 'accept-ranges': 'none' })
    if (req.method === 'HEAD') return void res.end()
    res.flushHeaders()
    void released.then(() => createReadStream(file).pipe(res))
  })
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    clearTimeout(fallback)
    origin.closeAllConnections()
    await new Promise((resolve) => origin.close(resolve))
  })
  const sn = await serveSupernode(join(dir, 'sn'))
  cleanups.push(() => sn.close())

  const syncs: SeenSync[] = []
  const recording: typeof fetch = async (input, init) => {
    const url = String(input instanceof Request ? input.url : input)
    if (!url.endsWith('/sync')) return fetch(input, init)
    const seen: SeenSync = { wait: (await syncBody(input, init)).wait === true, sentAt: performance.now() }
    syncs.push(seen)
    // The second sync is the one under test: once it is out, the source may go on.
    if (syncs.length === 2) release()
    const response = await fetch(input, init)
    seen.answeredAt = performance.now()
    return response
  }
  const peer = await startPeer(join(dir, 'p'), [sn.url], { apiFetch: recording })
  cleanups.push(() => peer.close())

  const result = await peer.download({ url: `http://127.0.0.1:${(origin.address() as AddressInfo).port}/file` })
  expect(await sha256File(join(dir, 'p', 'peer', 'data', result.storageKey))).toBe(await sha256File(file))
  const [first, second] = syncs
  expect(first?.wait).toBe(false)
  expect(second?.wait, 'the sync after an empty answer waits at the supernode (a long-poll)').toBe(true)
  // Sent right away: the peer is idle (the source is held), so only a timer could delay it; the spacing between
  // two long-polls is 250 ms, and before the fix this gap was that.
  const gap = second!.sentAt - first!.answeredAt!
  expect(gap, `${gap.toFixed(0)} ms between the first answer and the long-poll`).toBeLessThan(150)
})
