import { randomBytes } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import fsDriver from 'unstorage/drivers/fs'
import redisDriver from 'unstorage/drivers/redis'
import { describe, expect, it } from 'vitest'
import type { StorageDriver } from '../../core/contract/storage.ts'
import storageMemory from '../../plugins/storage-memory/index.ts'
import storageUnstorage from '../../plugins/storage-unstorage/index.ts'
import { testStorage } from '../../testing/index.ts'
import { tempDir } from '../helpers/cli.ts'
import { optionError } from '../helpers/option-error.ts'
import { redisForFile } from '../helpers/redis.ts'

const KEY = 'ab'.repeat(32)
const KiB = 1024
const context = (namespace: 'cdn' | 'peer' = 'cdn') => ({ home: '/nonexistent', namespace }) as const

const redis = redisForFile()

describe('storage-unstorage passes testStorage', () => {
  it("on unstorage's fs driver, as an instance and by name, in both namespaces", async () => {
    const base = await tempDir()
    await testStorage(storageUnstorage({ driver: fsDriver({ base }) }), { context: context('cdn') })
    await testStorage(storageUnstorage({ driver: 'fs', options: { base } }), { context: context('peer') })
    await testStorage(storageUnstorage({ driver: 'fs', options: { base }, blockSize: 4096 }), { context: context('peer') })
  })

  it("on unstorage's redis driver against a real redis-server, as an instance and by name, in both namespaces", async () => {
    await testStorage(storageUnstorage({ driver: redisDriver({ url: redis.server.url }) }), { context: context('cdn') })
    await testStorage(storageUnstorage({ driver: 'redis', options: { url: redis.server.url }, base: 'conf' }), { context: context('peer') })
    await testStorage(storageUnstorage({ driver: 'redis', options: { url: redis.server.url }, blockSize: 4096 }), { context: context('peer') })
  })
})

/** Writes the same pieces to `store` and to storage-memory (the oracle), then compares reads of random ranges. */
async function matchesMemory(store: StorageDriver, size: number, pieceSize: number): Promise<void> {
  const oracle = storageMemory().storage(context())
  const content = randomBytes(size)
  const pieces = Array.from({ length: Math.ceil(size / pieceSize) }, (_, n) => n).sort(() => Math.random() - 0.5)
  // Pieces land out of order and several at once, as a swarm writes them; each piece in runs of uneven length.
  await Promise.all(
    pieces.map(async (n) => {
      const end = Math.min(size, (n + 1) * pieceSize)
      for (let at = n * pieceSize; at < end; ) {
        const run = Math.min(end - at, 1 + Math.floor(Math.random() * pieceSize))
        const reused = Buffer.from(content.subarray(at, at + run))
        await Promise.all([store.writeAt(KEY, at, reused), oracle.writeAt(KEY, at, reused)])
        reused.fill(0) // the caller reuses its buffer: the store must have copied it
        at += run
      }
    }),
  )
  for (let i = 0; i < 40; i++) {
    const offset = Math.floor(Math.random() * size)
    const length = Math.floor(Math.random() * (size - offset)) + 1
    expect(Buffer.compare(await store.readAt(KEY, offset, length), await oracle.readAt(KEY, offset, length))).toBe(0)
  }
  expect(Buffer.compare(await store.readAt(KEY, 0, size), content)).toBe(0)
  await expect(store.readAt(KEY, size - 10, 11)).rejects.toMatchObject({ code: 'E_IO' })
  expect(await store.usage!()).toBe(size)
}

describe('storage-unstorage maps random-access writes onto blocks', () => {
  it('pieces smaller, equal and larger than a block, written out of order in uneven runs, read back as storage-memory does (redis)', async () => {
    for (const [blockSize, pieceSize] of [
      [4096, 1000],
      [4096, 4096],
      [4096, 3 * 4096],
      [64 * KiB, 4096],
    ] as const) {
      const plugin = storageUnstorage({ driver: 'redis', options: { url: redis.server.url }, base: `map${blockSize}x${pieceSize}`, blockSize })
      const store = plugin.storage(context())
      await matchesMemory(store, 50_000 + pieceSize, pieceSize)
      await store.remove(KEY)
      expect(await redis.client.keys(`map${blockSize}x${pieceSize}:*`)).toEqual([])
      await store.close?.()
    }
  })

  it('the same on the fs driver; each block is a file of its exact bytes, metadata a JSON file', async () => {
    const base = await tempDir()
    const store = storageUnstorage({ driver: fsDriver({ base }), blockSize: 4096 }).storage(context())
    await matchesMemory(store, 20_000, 3000)
    expect((await stat(join(base, 'cdn/data', KEY, '4'))).size).toBe(20_000 - 4 * 4096)
    expect(Buffer.compare(await readFile(join(base, 'cdn/data', KEY, '1')), await store.readAt(KEY, 4096, 4096))).toBe(0)
    await store.setMeta(KEY, { contentLength: 20_000 })
    expect(JSON.parse(await readFile(join(base, 'cdn/meta', KEY), 'utf8'))).toEqual({ contentLength: 20_000 })
    await store.close?.()
  })

  it('in redis: blocks are values under <base>:<namespace>:data:<key>:<n>, metadata a JSON string, the namespaces apart', async () => {
    const plugin = storageUnstorage({ driver: redisDriver({ url: redis.server.url }), base: 'layout', blockSize: 4096 })
    const [cdn, peer] = [plugin.storage(context('cdn')), plugin.storage(context('peer'))]
    await cdn.writeAt(KEY, 0, new Uint8Array(5000).fill(7))
    await cdn.setMeta(KEY, { pieceSize: 4096, digests: ['x'] })
    expect(JSON.parse((await redis.client.get(`layout:cdn:meta:${KEY}`))!)).toEqual({ pieceSize: 4096, digests: ['x'] })
    expect((await redis.client.keys(`layout:cdn:data:${KEY}:*`)).sort()).toEqual([`layout:cdn:data:${KEY}:0`, `layout:cdn:data:${KEY}:1`])
    expect(await peer.getMeta(KEY)).toBeNull()
    expect(await peer.listKeys()).toEqual([])
    expect(await cdn.listKeys()).toEqual([KEY])
    // A string survives as a string (unstorage alone would read "123" back as a number).
    await cdn.setMeta(KEY, '123')
    expect(await cdn.getMeta(KEY)).toBe('123')
    await cdn.remove(KEY)
    expect(await redis.client.keys('layout:*')).toEqual([])
    await Promise.all([cdn.close?.(), peer.close?.()])
  })

  it('usage: listed once, then followed through writes and removals; a fresh store lists the same', async () => {
    const plugin = storageUnstorage({ driver: 'redis', options: { url: redis.server.url }, base: 'usage', blockSize: 4096 })
    const store = plugin.storage(context())
    const other = 'cd'.repeat(32)
    await store.writeAt(KEY, 0, new Uint8Array(5000))
    expect(await store.usage!()).toBe(5000)
    await store.writeAt(other, 100, new Uint8Array(900))
    await store.writeAt(KEY, 4000, new Uint8Array(2000))
    expect(await store.usage!()).toBe(7000)
    const fresh = plugin.storage(context())
    expect(await fresh.usage!()).toBe(7000)
    await store.remove(KEY)
    expect(await store.usage!()).toBe(1000)
    await store.remove(other)
    expect(await store.usage!()).toBe(0)
    await Promise.all([store.close?.(), fresh.close?.()])
  })

  it('keeps the block size a task was written with when the option changes', async () => {
    const options = { driver: 'redis', options: { url: redis.server.url }, base: 'resize' } as const
    const before = storageUnstorage({ ...options, blockSize: 4096 }).storage(context())
    const content = randomBytes(30_000)
    await before.writeAt(KEY, 0, content)
    await before.close?.()
    const after = storageUnstorage({ ...options, blockSize: 1024 * KiB }).storage(context())
    expect(Buffer.compare(await after.readAt(KEY, 0, content.byteLength), content)).toBe(0)
    await after.writeAt(KEY, 30_000, new Uint8Array(10))
    expect(await redis.client.exists(`resize:cdn:data:${KEY}:7`)).toBe(1)
    await after.remove(KEY)
    await after.close?.()
  })

  it('a hole (a block never written) is E_IO, not zeros; a block of the right bytes next to it still reads', async () => {
    const store = storageUnstorage({ driver: 'redis', options: { url: redis.server.url }, base: 'hole', blockSize: 4096 }).storage(context())
    await store.writeAt(KEY, 3 * 4096, new Uint8Array(100).fill(1))
    await expect(store.readAt(KEY, 0, 10)).rejects.toMatchObject({ code: 'E_IO', message: /no bytes stored at 0/ })
    expect(await store.readAt(KEY, 3 * 4096, 100)).toEqual(new Uint8Array(100).fill(1))
    await store.remove(KEY)
    await store.close?.()
  })
})

describe('storage-unstorage fails clearly', () => {
  it('refuses misspelt and mistyped options, unknown driver names, and options beside an instance', () => {
    expect(optionError(() => storageUnstorage({ driver: 'redis', blocksize: 4096 } as never))).toBe(
      'storage-unstorage: unknown option `blocksize` (did you mean `blockSize`?); known: driver, options, base, blockSize, timeout',
    )
    expect(optionError(() => storageUnstorage({} as never))).toBe('storage-unstorage: option `driver` is required')
    expect(optionError(() => storageUnstorage({ driver: { getItem() {} } } as never))).toMatch(
      /option `driver` must be an unstorage driver with getItem, setItem/,
    )
    expect(optionError(() => storageUnstorage({ driver: 'rediss' as never }))).toMatch(/unknown unstorage driver `rediss`/)
    expect(optionError(() => storageUnstorage({ driver: 'redis', blockSize: 5000 }))).toBe(
      'storage-unstorage: option `blockSize` must be a power of two from 4096 to 67108864, got 5000',
    )
    expect(optionError(() => storageUnstorage({ driver: 'redis', base: 'a b' }))).toMatch(/option `base` must be words of letters/)
    expect(optionError(() => storageUnstorage({ driver: fsDriver({ base: '/tmp' }), options: { base: '/x' } }))).toMatch(
      /`options` are for a driver given by name/,
    )
    // Positive control: the same shapes, well formed, load.
    expect(storageUnstorage({ driver: 'redis', blockSize: 8192, base: 'a:b' }).name).toBe('storage-unstorage')
  })

  it('a driver whose client library is not installed is E_PLUGIN naming the package, at first use', async () => {
    const store = storageUnstorage({ driver: 'mongodb', options: { connectionString: 'mongodb://127.0.0.1:1' } }).storage(context())
    await expect(store.getMeta(KEY)).rejects.toMatchObject({
      code: 'E_PLUGIN',
      message: /driver `mongodb`: it needs mongodb, which is not installed \(npm install mongodb\)/,
    })
    await store.close?.()
    const fsWithoutBase = storageUnstorage({ driver: 'fs' }).storage(context())
    await expect(fsWithoutBase.getMeta(KEY)).rejects.toMatchObject({ code: 'E_PLUGIN', message: /driver `fs` refused its options: .*base/ })
  })

  it('a store that stops answering fails each call with E_IO after `timeout`, instead of hanging', async () => {
    const sockets = new Set<Socket>()
    const mute = createServer((socket) => sockets.add(socket))
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
    const port = (mute.address() as { port: number }).port
    try {
      const store = storageUnstorage({ driver: 'redis', options: { url: `redis://127.0.0.1:${port}` }, timeout: 300 }).storage(context())
      await expect(store.getMeta(KEY)).rejects.toMatchObject({ code: 'E_IO', message: /no answer from the unstorage driver in 300 ms/ })
      await expect(store.writeAt(KEY, 0, new Uint8Array(10))).rejects.toMatchObject({ code: 'E_IO' })
      await store.close?.()
      // Positive control: the same timeout against a redis-server that answers.
      const live = storageUnstorage({ driver: 'redis', options: { url: redis.server.url }, timeout: 300 }).storage(context())
      expect(await live.getMeta(KEY)).toBeNull()
      await live.close?.()
    } finally {
      for (const s of sockets) s.destroy()
      mute.close()
    }
  })

  it('closing the last store closes the connection; a closed store refuses work with E_IO', async () => {
    const named = async () => String(await redis.client.client('LIST')).match(/ name=df-close-test /g)?.length ?? 0
    const plugin = storageUnstorage({ driver: 'redis', options: { url: redis.server.url, connectionName: 'df-close-test' }, base: 'close' })
    const [a, b] = [plugin.storage(context('cdn')), plugin.storage(context('peer'))]
    await Promise.all([a.getMeta(KEY), b.getMeta(KEY)])
    expect(await named()).toBe(1)
    await a.close?.()
    expect(await b.getMeta(KEY)).toBeNull()
    await b.close?.()
    await until(async () => (await named()) === 0)
    await expect(a.getMeta(KEY)).rejects.toMatchObject({ code: 'E_IO', message: /closed/ })
  })
})

/** Resolves once `check` holds; fails the test if it does not within `ms`. */
async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
