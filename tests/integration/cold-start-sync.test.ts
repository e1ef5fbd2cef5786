import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterEach, expect, it } from 'vitest'
import type { Peer } from '../../core/peer/peer.ts'
import { randomFile, sha256File, tempDir } from '../helpers/cli.ts'
import { serveSupernode, startPeer } from '../helpers/swarm.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** What a sync asked (a long-poll: `wait`; its `holdMs`), when it left, and when its answer came. */
interface SeenSync {
  wait: boolean
  holdMs: number
  sentAt: number
  answeredAt?: number
}

/**
 * A cold task whose source stops: the origin answers its headers at once, sends the file's first `sendFirst`
 * bytes, and the rest once `onSync` calls `release` (or after 10 s). A peer on a fresh supernode downloads it and
 * records every sync it sends; `onSync` sees each as it leaves. Returns the syncs once the file is verified.
 */
async function heldSource(size: number, sendFirst: number, onSync: (seen: SeenSync, all: SeenSync[], release: () => void) => void): Promise<SeenSync[]> {
  const dir = await tempDir()
  const file = await randomFile(dir, size)
  const bytes = await readFile(file)
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  const fallback = setTimeout(() => release(), 10_000)
  const origin = createServer((req, res) => {
    res.writeHead(200, { 'content-length': bytes.byteLength, 'accept-ranges': 'none' })
    if (req.method === 'HEAD') return void res.end()
    res.flushHeaders()
    if (sendFirst > 0) res.write(bytes.subarray(0, sendFirst))
    void released.then(() => res.end(bytes.subarray(sendFirst)))
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
    const body = (typeof init?.body === 'string' ? JSON.parse(init.body) : {}) as { wait?: boolean; holdMs?: number }
    const seen: SeenSync = { wait: body.wait === true, holdMs: body.holdMs ?? 0, sentAt: performance.now() }
    syncs.push(seen)
    onSync(seen, syncs, release)
    const response = await fetch(input, init)
    seen.answeredAt = performance.now()
    return response
  }
  const peer: Peer = await startPeer(join(dir, 'p'), [sn.url], { apiFetch: recording })
  cleanups.push(() => peer.close())
  const result = await peer.download({ url: `http://127.0.0.1:${(origin.address() as AddressInfo).port}/file` })
  expect(await sha256File(join(dir, 'p', 'peer', 'data', result.storageKey))).toBe(await sha256File(file))
  return syncs
}

it('a cold task: after a first answer with no digest yet the peer long-polls at once instead of waiting out the dry spacing', async () => {
  // No body byte until the peer's second sync is out: the supernode knows the task's length but no piece digest,
  // so the first sync can only come back empty.
  const syncs = await heldSource(4 * 1024 * 1024, 0, (_, all, release) => {
    if (all.length === 2) release()
  })
  const [first, second] = syncs
  expect(first?.wait).toBe(false)
  expect(second?.wait, 'the sync after an empty answer waits at the supernode (a long-poll)').toBe(true)
  // Sent right away: the peer is idle (the source is held), so only a timer could delay it; the spacing between
  // two long-polls is 250 ms, and before the fix this gap was that.
  const gap = second!.sentAt - first!.answeredAt!
  expect(gap, `${gap.toFixed(0)} ms between the first answer and the long-poll`).toBeLessThan(150)
})

it("a cold task's end: the long-poll of a peer that keeps pace with the source fetch is answered when the fetch ends, not after the spacing", async () => {
  // All but the last 256 KiB at once: the peer takes what the supernode has, runs dry, and long-polls with a hold
  // (`holdMs`) while the source fetch is not over. The rest goes when such a long-poll leaves.
  let held: SeenSync | undefined
  const size = 8 * 1024 * 1024
  await heldSource(size, size - 256 * 1024, (seen, _, release) => {
    if (held || !seen.wait || seen.holdMs < 120) return
    held = seen
    release()
  })
  expect(held, 'a long-poll with a hold of 120 ms or more, sent while the source fetch was not over').toBeDefined()
  // The source fetch ended right after the release: the answer comes then, well before the hold would have run out.
  const waited = held!.answeredAt! - held!.sentAt
  expect(waited, `answered after ${waited.toFixed(0)} ms of a ${held!.holdMs} ms hold`).toBeLessThan(held!.holdMs - 60)
})
