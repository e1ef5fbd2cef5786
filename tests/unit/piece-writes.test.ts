import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { StorageDriver } from '../../core/contract/storage.ts'
import { createPieceEncoder, parseAcceptCoding } from '../../core/protocol/piece-coding.ts'
import { fetchPiece, type PieceFetch, STREAM_RUN } from '../../core/transfer/piece-fetch.ts'
import { PieceWrites } from '../../core/transfer/piece-writes.ts'
import compress from '../../plugins/compress/index.ts'
import encrypt from '../../plugins/encrypt/index.ts'
import { createMemoryStorage } from '../../plugins/storage-memory/index.ts'
import { createSha256 } from '../../runtime/node-hash.ts'
import { allocateShared } from '../../runtime/page-memory.ts'

const KEY = 'a'.repeat(64)

/** Memory storage whose writes finish only when the test lets them (per call, in order). */
function gatedStorage(): { storage: StorageDriver; writes: { offset: number; bytes: Uint8Array; finish(): void }[] } {
  const inner = createMemoryStorage()
  const writes: { offset: number; bytes: Uint8Array; finish(): void }[] = []
  const storage: StorageDriver = {
    ...inner,
    writeAt(key, offset, bytes) {
      const copy = bytes.slice()
      return new Promise<void>((resolve, reject) => {
        writes.push({ offset, bytes: copy, finish: () => inner.writeAt(key, offset, copy).then(resolve, reject) })
      })
    },
  }
  return { storage, writes }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5))

describe('PieceWrites', () => {
  it('streams the first fetch of a piece and makes a duplicate wait for it before writing the whole piece', async () => {
    const { storage, writes } = gatedStorage()
    const pw = new PieceWrites(storage, KEY)
    const first = pw.open(3, 100)
    const second = pw.open(3, 100)
    expect(first.streams).toBe(true)
    expect(second.streams).toBe(false)
    expect(second.onBytes).toBeUndefined()

    // The streaming fetch got bad bytes from a corrupt peer; its write is still on its way.
    first.onBytes!(new Uint8Array([9, 9, 9, 9]), 0)
    expect(writes.map((w) => w.offset)).toEqual([100])

    // The duplicate verified good bytes: it must not write while the streamer's write is pending.
    let held = false
    const whole = second.writeWhole(new Uint8Array([1, 2, 3, 4]), () => held)
    await tick()
    expect(writes).toHaveLength(1)

    // The streamer is stopped (its digest failed): its write lands, then it closes.
    const closing = first.close()
    writes[0]!.finish()
    await closing
    await tick()
    expect(writes).toHaveLength(2)
    writes[1]!.finish()
    expect(await whole).toBe(true)
    held = true
    await second.close()
    expect(await storage.readAt(KEY, 100, 4)).toEqual(new Uint8Array([1, 2, 3, 4]))
  })

  it('a duplicate that finds the piece held after waiting writes nothing', async () => {
    const { storage, writes } = gatedStorage()
    const pw = new PieceWrites(storage, KEY)
    const first = pw.open(0, 0)
    const second = pw.open(0, 0)
    first.onBytes!(new Uint8Array([5, 6]), 0)
    let held = false
    const whole = second.writeWhole(new Uint8Array([5, 6]), () => held)
    writes[0]!.finish()
    await first.settle()
    held = true
    await first.close()
    expect(await whole).toBe(false)
    expect(writes).toHaveLength(1)
  })

  it('no fetch streams a piece while a whole piece is being written', async () => {
    const { storage, writes } = gatedStorage()
    const pw = new PieceWrites(storage, KEY)
    const streamer = pw.open(7, 0)
    expect(streamer.streams).toBe(true)
    const whole = pw.open(7, 0)
    const writing = whole.writeWhole(new Uint8Array([1]), () => false)
    await streamer.close()
    await tick()
    // While `whole` holds the range, a new fetch of the piece keeps its bytes in memory.
    const late = pw.open(7, 0)
    expect(late.streams).toBe(false)
    writes[0]!.finish()
    await writing
    await whole.close()
    expect(pw.open(7, 0).streams).toBe(true)
  })

  it('settle reports a failed write, and later runs are not written', async () => {
    const inner = createMemoryStorage()
    let calls = 0
    const storage: StorageDriver = {
      ...inner,
      async writeAt() {
        calls++
        throw Object.assign(new Error('disk full'), { code: 'E_NO_SPACE' })
      },
    }
    const writer = new PieceWrites(storage, KEY).open(0, 0)
    writer.onBytes!(new Uint8Array(4), 0)
    await expect(writer.settle()).rejects.toThrow('disk full')
    writer.onBytes!(new Uint8Array(4), 4)
    expect(calls).toBe(1)
    await writer.close()
  })
})

describe('fetchPiece onBytes', () => {
  const sealed = encrypt({ secret: 'a test secret of some length' }).transform!
  const size = 3 * STREAM_RUN + 12345
  const body = new Uint8Array(size).map((_, i) => (i * 13 + (i >> 12)) & 0xff)
  const digest = createHash('sha256').update(body).digest('hex')
  let server: Server
  let base: string
  beforeAll(async () => {
    server = createServer((req, res) => {
      const accept = req.headers['x-dragonfly-accept-coding']
      if (typeof accept === 'string' && accept.includes('aes256gcm')) {
        createPieceEncoder([sealed])
          .encode(body, { taskId: KEY, piece: 0 }, parseAcceptCoding(accept))
          .then(({ body: coded, coding }) => res.writeHead(200, { 'content-length': coded.byteLength, 'x-dragonfly-coding': coding }).end(coded))
        return
      }
      if (req.headers['x-dragonfly-accept-coding']?.includes('gzip')) {
        import('node:zlib').then(({ gzipSync }) => {
          const coded = gzipSync(body)
          res.writeHead(200, { 'content-length': coded.byteLength, 'x-dragonfly-coding': 'gzip' }).end(coded)
        })
        return
      }
      // Small writes: the body arrives in many chunks.
      res.writeHead(200, { 'content-length': size })
      for (let at = 0; at < size; at += 40_000) res.write(body.subarray(at, Math.min(size, at + 40_000)))
      res.end()
    })
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((done) => server.close(() => done())))
  const fetchWith = (extra: Partial<PieceFetch>) =>
    fetchPiece({ base, taskId: KEY, piece: 0, size, digest, createHash: createSha256, timeoutMs: 10_000, ...extra })

  it('hands over the whole plain piece in whole multiples of STREAM_RUN (aligned for direct I/O), in order, before the outcome', async () => {
    const runs: { offset: number; length: number; copy: Uint8Array }[] = []
    const outcome = await fetchWith({
      buffer: new Uint8Array(size),
      onBytes: (bytes, offset) => runs.push({ offset, length: bytes.byteLength, copy: bytes.slice() }),
    })
    expect(outcome.ok).toBe(true)
    expect(outcome.ok && outcome.handed).toBe(true)
    let at = 0
    for (const [i, run] of runs.entries()) {
      expect(run.offset).toBe(at)
      expect(run.offset % STREAM_RUN).toBe(0)
      if (i < runs.length - 1) expect(run.length % STREAM_RUN).toBe(0)
      expect(run.length).toBeGreaterThan(0)
      expect(Buffer.compare(run.copy, body.subarray(at, at + run.length))).toBe(0)
      at += run.length
    }
    expect(at).toBe(size)
  })

  it('hands over nothing for a coded piece (the caller writes the decoded bytes whole)', async () => {
    const runs: number[] = []
    const transforms = [compress({ codecs: ['gzip'] }).transform!]
    const outcome = await fetchWith({ transforms, onBytes: (_, offset) => runs.push(offset) })
    expect(outcome.ok).toBe(true)
    expect(outcome.ok && outcome.handed).toBe(false)
    expect(runs).toEqual([])
  })

  it('a coded piece received into shared memory (Node receive buffers) is decoded: transforms get memory of their own', async () => {
    const outcome = await fetchWith({ transforms: [sealed], buffer: allocateShared(size + (size >> 3) + 4096) })
    expect(outcome.ok).toBe(true)
    expect(outcome.ok && Buffer.compare(outcome.bytes, body)).toBe(0)
  })

  /** A hasher standing in for the runtime's hash thread: hashes what it is given, or fails, or lies. */
  const fakeHasher = (mode: 'honest' | 'fails' | 'lies', seen: Uint8Array[]) => () => {
    const hash = createHash('sha256')
    return {
      update: (bytes: Uint8Array) => {
        seen.push(bytes.slice())
        hash.update(bytes)
      },
      digest: async () => {
        if (mode === 'fails') throw new Error('hash thread stopped')
        return mode === 'lies' ? '0'.repeat(64) : hash.digest('hex')
      },
    }
  }

  it('with a piece hasher, hashes on it run by run, and its digest decides', async () => {
    const seen: Uint8Array[] = []
    const outcome = await fetchWith({ buffer: new Uint8Array(size), createPieceHasher: fakeHasher('honest', seen) })
    expect(outcome.ok).toBe(true)
    // Runs, not socket chunks: the thread gets a message per STREAM_RUN, not per read.
    expect(seen.length).toBe(Math.ceil(size / STREAM_RUN))
    expect(Buffer.compare(Buffer.concat(seen), body)).toBe(0)
    const lied = await fetchWith({ buffer: new Uint8Array(size), createPieceHasher: fakeHasher('lies', []) })
    expect(lied.ok).toBe(false)
    expect(!lied.ok && lied.error).toBe('digest')
  })

  it('a piece hasher that fails does not fail the piece: it is hashed on this thread from the bytes received', async () => {
    const outcome = await fetchWith({ buffer: new Uint8Array(size), createPieceHasher: fakeHasher('fails', []) })
    expect(outcome.ok).toBe(true)
    expect(outcome.ok && Buffer.compare(outcome.bytes, body)).toBe(0)
  })
})
