import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { computePieceSize } from '../../core/protocol/piece-layout.ts'
import { randomFile, sha256File, tempDir } from '../helpers/cli.ts'
import { type Fault, FIRST_LAST_MODIFIED, resetAfter, startFaultOrigin } from '../helpers/fault-origin.ts'
import { serveSupernode, startPeer } from '../helpers/swarm.ts'

const SIZE = 6 * 1024 * 1024
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup(fault?: Fault, options?: { ranges?: boolean }) {
  const dir = await tempDir()
  const file = await randomFile(dir, SIZE)
  const origin = await startFaultOrigin(file, fault, options)
  const sn = await serveSupernode(join(dir, 'sn'))
  cleanups.push(
    () => origin.close(),
    () => sn.close(),
  )
  const get = async (home: string) => {
    const peer = await startPeer(join(dir, home), [sn.url])
    try {
      const result = await peer.download({ url: origin.url })
      const bytes = await peer.options.storage.readAt(result.storageKey, 0, result.bytes)
      return { result, bytes }
    } finally {
      await peer.close()
    }
  }
  return { dir, file, origin, sn, get, expected: await readFile(file) }
}

describe('source trouble at the supernode', () => {
  it('a connection dropped mid-stream is resumed with a Range request', async () => {
    const { origin, get, expected } = await setup((n, req, res, body) => n === 0 && resetAfter(2 * 1024 * 1024 + 777)(n, req, res, body))
    const { bytes } = await get('p')
    expect(Buffer.from(bytes).equals(expected)).toBe(true)
    expect(origin.requests[1]).toMatchObject({ range: 'bytes=2097152-', ifRange: '"v1"', status: 206 })
    expect(origin.bytes).toBe(SIZE - 2 * 1024 * 1024)
  })

  it('a source without Range support is read again from the start, correctly', async () => {
    const { origin, get, expected } = await setup((n, req, res, body) => n === 0 && resetAfter(3 * 1024 * 1024)(n, req, res, body), { ranges: false })
    const { bytes } = await get('p')
    expect(Buffer.from(bytes).equals(expected)).toBe(true)
    expect(origin.requests).toHaveLength(2)
    expect(origin.requests[1]).toMatchObject({ range: expect.stringMatching(/^bytes=[1-9]\d*-$/), status: 200 })
  })

  it('5xx answers are retried with backoff', async () => {
    const { origin, get, expected } = await setup((n, _req, res) => n < 2 && (res.writeHead(503).end('busy'), true))
    const { bytes } = await get('p')
    expect(Buffer.from(bytes).equals(expected)).toBe(true)
    expect(origin.requests.map((r) => r.status)).toEqual([503, 503, 200])
  })

  it('404 fails fast with a code, and the failure is remembered briefly', async () => {
    const { origin, get } = await setup((_n, _req, res) => (res.writeHead(404).end('no'), true))
    await expect(get('p')).rejects.toMatchObject({ code: 'E_SOURCE_STATUS' })
    await expect(get('q')).rejects.toMatchObject({ code: 'E_SOURCE_STATUS' })
    expect(origin.requests).toHaveLength(1)
  })
})

/** One download through a supernode started for it on `dir`/sn (so each call is a supernode restart). */
async function fetchThroughFreshSupernode(dir: string, home: string, url: string): Promise<Buffer> {
  const sn = await serveSupernode(join(dir, 'sn'))
  const peer = await startPeer(join(dir, home), [sn.url])
  try {
    const result = await peer.download({ url })
    return Buffer.from(await peer.options.storage.readAt(result.storageKey, 0, result.bytes))
  } finally {
    await peer.close()
    await sn.close()
  }
}

describe('supernode restart: revalidation', () => {
  it('304 keeps the cache; a changed source replaces it', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const origin = await startFaultOrigin(file)
    cleanups.push(() => origin.close())
    const fetchOnce = (home: string) => fetchThroughFreshSupernode(dir, home, origin.url)
    expect((await fetchOnce('a')).equals(await readFile(file))).toBe(true)
    expect((await fetchOnce('b')).equals(await readFile(file))).toBe(true)
    expect(origin.requests[1]).toMatchObject({ ifNoneMatch: '"v1"', status: 304 })
    expect(origin.bytes).toBe(SIZE)
    const changed = randomBytes(SIZE + 100)
    origin.setContent(changed, '"v2"')
    expect((await fetchOnce('c')).equals(changed)).toBe(true)
    expect(origin.requests[2]).toMatchObject({ ifNoneMatch: '"v1"', status: 200 })
  })

  it('a partially cached task resumes from the source with Range after a restart', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    // The first fetch dies after 4 MiB and the supernode is gone before it can retry.
    const origin = await startFaultOrigin(file, (n, req, res, body) => n === 0 && resetAfter(4 * 1024 * 1024)(n, req, res, body))
    cleanups.push(() => origin.close())
    const first = await serveSupernode(join(dir, 'sn'), { retry: { retries: 0, backoffMs: 1 } })
    const peer = await startPeer(join(dir, 'a'), [first.url], { backSource: false })
    await expect(peer.download({ url: origin.url })).rejects.toBeTruthy()
    await peer.close()
    await first.close()
    const again = await serveSupernode(join(dir, 'sn'))
    cleanups.push(() => again.close())
    const peer2 = await startPeer(join(dir, 'b'), [again.url])
    const result = await peer2.download({ url: origin.url })
    expect(Buffer.from(await peer2.options.storage.readAt(result.storageKey, 0, result.bytes)).equals(await readFile(file))).toBe(true)
    await peer2.close()
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(origin.requests[1]!.range ?? '')?.[1])
    expect(resumedAt).toBeGreaterThan(0)
    expect(resumedAt % computePieceSize(SIZE)).toBe(0)
    expect(origin.requests[1]).toMatchObject({ ifRange: '"v1"', status: 206 })
    expect(await sha256File(file)).toBe(result.digest.slice(7))
  })

  it('Last-Modified only (no ETag): If-Modified-Since gets a 304 that keeps the cache; a newer date replaces it', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const origin = await startFaultOrigin(file, undefined, { validator: 'last-modified' })
    cleanups.push(() => origin.close())
    const fetchOnce = (home: string) => fetchThroughFreshSupernode(dir, home, origin.url)
    expect((await fetchOnce('a')).equals(await readFile(file))).toBe(true)
    expect((await fetchOnce('b')).equals(await readFile(file))).toBe(true)
    expect(origin.requests[1]).toMatchObject({ ifModifiedSince: FIRST_LAST_MODIFIED, ifNoneMatch: undefined, status: 304 })
    expect(origin.bytes).toBe(SIZE)
    const changed = randomBytes(SIZE + 100)
    origin.setContent(changed, 'Wed, 02 Dec 2026 10:00:00 GMT')
    expect((await fetchOnce('c')).equals(changed)).toBe(true)
    expect(origin.requests[2]).toMatchObject({ ifModifiedSince: FIRST_LAST_MODIFIED, status: 200 })
  })

  // The resume after a restart carries If-Range with the validator the partial cache was fetched under; when the
  // source changed meanwhile it answers 200 with the whole new content, which must replace the old pieces, not extend them.
  for (const validator of ['etag', 'last-modified'] as const) {
    it(`a resume after a restart sends If-Range (${validator}); a source changed meanwhile gives the whole new file, never a splice`, async () => {
      const dir = await tempDir()
      const file = await randomFile(dir, SIZE)
      const first: Record<string, string> = validator === 'etag' ? { etag: '"v1"' } : { 'last-modified': FIRST_LAST_MODIFIED }
      const origin = await startFaultOrigin(file, (n, req, res, body) => n === 0 && resetAfter(4 * 1024 * 1024, first)(n, req, res, body), { validator })
      cleanups.push(() => origin.close())
      const broken = await serveSupernode(join(dir, 'sn'), { retry: { retries: 0, backoffMs: 1 } })
      const peer = await startPeer(join(dir, 'a'), [broken.url], { backSource: false })
      await expect(peer.download({ url: origin.url })).rejects.toBeTruthy()
      await peer.close()
      await broken.close()
      const changed = randomBytes(SIZE)
      origin.setContent(changed, validator === 'etag' ? '"v2"' : 'Wed, 02 Dec 2026 10:00:00 GMT')
      const again = await serveSupernode(join(dir, 'sn'))
      cleanups.push(() => again.close())
      const peer2 = await startPeer(join(dir, 'b'), [again.url])
      const result = await peer2.download({ url: origin.url })
      const got = Buffer.from(await peer2.options.storage.readAt(result.storageKey, 0, result.bytes))
      await peer2.close()
      const resume = origin.requests.find((r, i) => i > 0 && r.range)
      expect(resume).toMatchObject({ ifRange: Object.values(first)[0], status: 200 })
      expect(got.equals(changed)).toBe(true)
    })
  }
})
