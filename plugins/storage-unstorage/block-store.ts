import type { Storage } from 'unstorage'
import { STORAGE_KEY_RE, type StorageDriver } from '../../core/contract/storage.ts'
import { createError } from '../../core/errors.ts'
import { KeyedLock } from './keyed-lock.ts'

/**
 * A task's content as fixed-size blocks in a key-value store:
 *   `<prefix>:meta:<key>`        the task's metadata (a JSON item)
 *   `<prefix>:blob:<key>`        `{ end, blockSize }`: how far the content reaches, in which block size
 *   `<prefix>:data:<key>:<n>`    block n (a raw value), bytes [n * blockSize, (n + 1) * blockSize)
 * `writeAt` covering a whole block sets it; a partial one (the content's last
 * block, or blocks larger than a piece) reads the block, patches it and sets
 * it back, one writer per block at a time. The block size is kept per task,
 * so changing the option later does not misread what is stored.
 */
export interface BlockStoreOptions {
  /** For error messages. */
  name: string
  /** Key prefix (without a trailing `:`), e.g. `cdn` or `mycache:cdn`. */
  prefix: string
  blockSize: number
  /** Each call into the driver fails with E_IO after this long. */
  timeout: number
  storage(): Promise<Storage>
  /** Called once by `close()`. */
  release(): Promise<void>
}

interface BlobIndex {
  end: number
  blockSize: number
}

/** The largest block size the plugin accepts; a stored index claiming more is damaged. */
export const MAX_BLOCK_SIZE = 64 * 1024 * 1024

/** Block reads and writes in flight per call: bounds memory and connections for a large range. */
const PARALLEL_BLOCKS = 16

export function createBlockStore(options: BlockStoreOptions): StorageDriver {
  const { name, prefix, timeout } = options
  const metaKey = (key: string) => `${prefix}:meta:${key}`
  const blobKey = (key: string) => `${prefix}:blob:${key}`
  const blockKey = (key: string, n: number) => `${prefix}:data:${key}:${n}`
  const indexes = new Map<string, BlobIndex>()
  const locks = new KeyedLock()
  let closed = false
  /** Bytes stored, once listed: kept up to date by this process's writes and removals (a store has one owner), so `/status` and the GC do not scan the keys each time. */
  let stored: number | null = null

  const checkKey = (key: string): void => {
    if (!STORAGE_KEY_RE.test(key)) throw createError('E_BAD_REQUEST', `invalid storage key ${JSON.stringify(key)}`)
  }
  /** Runs one driver call with the time limit; any failure becomes E_IO naming what was tried. */
  const call = async <T>(what: string, fn: (storage: Storage) => Promise<T>): Promise<T> => {
    if (closed) throw createError('E_IO', `${name}: ${what}: the store is closed`)
    const storage = await options.storage()
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(createError('E_IO', `${name}: ${what}: no answer from the unstorage driver in ${timeout} ms`)), timeout)
    })
    try {
      return await Promise.race([fn(storage), late])
    } catch (error) {
      if ((error as { code?: string })?.code === 'E_IO') throw error
      throw createError('E_IO', `${name}: ${what}: ${(error as Error)?.message ?? error}`, { cause: error })
    } finally {
      clearTimeout(timer)
    }
  }

  const getBlock = (key: string, n: number): Promise<Uint8Array | null> =>
    call(`cannot read ${key} block ${n}`, async (s) => {
      const value: unknown = await s.getItemRaw(blockKey(key, n))
      if (value === null || value === undefined) return null
      if (value instanceof Uint8Array) return value
      if (value instanceof ArrayBuffer) return new Uint8Array(value)
      throw new Error(`the driver returned ${typeof value} for a raw value`)
    })
  const setBlock = (key: string, n: number, bytes: Uint8Array) => call(`cannot write ${key} block ${n}`, (s) => s.setItemRaw(blockKey(key, n), bytes))

  const loadIndex = async (key: string): Promise<BlobIndex | null> => {
    const known = indexes.get(key)
    if (known) return known
    const value = await call(`cannot read the index of ${key}`, (s) => s.getItem(blobKey(key)))
    const index = isIndex(value) ? value : null
    if (index) indexes.set(key, index)
    return index
  }
  /** The index covering `end`; stored before the blocks it describes, so it never claims less than is stored. */
  const extendIndex = (key: string, end: number): Promise<BlobIndex> =>
    locks.run(blobKey(key), async () => {
      const index = (await loadIndex(key)) ?? { end: 0, blockSize: options.blockSize }
      if (end <= index.end && indexes.has(key)) return index
      const next = { end: Math.max(end, index.end), blockSize: index.blockSize }
      await call(`cannot write the index of ${key}`, (s) => s.setItem(blobKey(key), next))
      indexes.set(key, next)
      if (stored !== null) stored += next.end - index.end
      return next
    })

  const writeBlock = (key: string, n: number, at: number, bytes: Uint8Array, blockSize: number): Promise<void> =>
    locks.run(blockKey(key, n), async () => {
      // A copy either way: `bytes` is the caller's reused buffer, and some drivers keep the value they are given.
      if (at === 0 && bytes.byteLength === blockSize) return setBlock(key, n, bytes.slice())
      const old = await getBlock(key, n)
      const block = new Uint8Array(Math.max(old?.byteLength ?? 0, at + bytes.byteLength))
      if (old) block.set(old)
      block.set(bytes, at)
      await setBlock(key, n, block)
    })

  const readInto = async (key: string, offset: number, target: Uint8Array): Promise<void> => {
    checkKey(key)
    checkRange(offset, target.byteLength)
    const end = offset + target.byteLength
    const index = await loadIndex(key)
    if (!index || end > index.end) throw createError('E_IO', `${name}: ${key} is shorter than ${end} bytes`)
    const { blockSize } = index
    await forEachBlock(offset, end, blockSize, async (n, from, to) => {
      const block = await getBlock(key, n)
      const start = n * blockSize
      if (!block || block.byteLength < to - start)
        throw createError('E_IO', `${name}: ${key} has no bytes stored at ${Math.max(from, start + (block?.byteLength ?? 0))}`)
      target.set(block.subarray(from - start, to - start), from - offset)
    })
  }

  return {
    name,
    async writeAt(key, offset, data) {
      checkKey(key)
      checkRange(offset, data.byteLength)
      if (data.byteLength === 0) return
      const end = offset + data.byteLength
      const { blockSize } = await extendIndex(key, end)
      await forEachBlock(offset, end, blockSize, (n, from, to) =>
        writeBlock(key, n, from - n * blockSize, data.subarray(from - offset, to - offset), blockSize),
      )
    },
    async readAt(key, offset, length) {
      checkRange(offset, length)
      const out = new Uint8Array(length)
      await readInto(key, offset, out)
      return out
    },
    readInto,
    async remove(key) {
      checkKey(key)
      // Metadata first: a task is listed by its metadata, so a removal cut short leaves no task pointing at missing blocks.
      await call(`cannot remove the metadata of ${key}`, (s) => s.removeItem(metaKey(key)))
      await locks.run(blobKey(key), async () => {
        const index = await loadIndex(key)
        if (index) {
          await forEachBlock(0, index.end, index.blockSize, (n) =>
            locks.run(blockKey(key, n), () => call(`cannot remove ${key} block ${n}`, (s) => s.removeItem(blockKey(key, n)))),
          )
        }
        await call(`cannot remove the index of ${key}`, (s) => s.removeItem(blobKey(key)))
        indexes.delete(key)
        if (stored !== null && index) stored -= index.end
      })
    },
    async getMeta<T>(key: string) {
      checkKey(key)
      // Stored as JSON text, so a string value comes back as a string (unstorage would turn "123" into 123).
      const value = await call(`cannot read the metadata of ${key}`, (s) => s.getItem(metaKey(key)))
      return (value ?? null) as T | null
    },
    async setMeta(key, value) {
      checkKey(key)
      await call(`cannot write the metadata of ${key}`, (s) => s.setItem(metaKey(key), JSON.stringify(value)))
    },
    async listKeys() {
      const base = `${prefix}:meta:`
      const keys = await call('cannot list keys', (s) => s.getKeys(base))
      return keys.filter((k) => k.startsWith(base)).map((k) => k.slice(base.length))
    },
    async usage() {
      if (stored !== null) return stored
      const base = `${prefix}:blob:`
      const keys = await call('cannot list keys', (s) => s.getKeys(base))
      const items = keys.length === 0 ? [] : await call('cannot read indexes', (s) => s.getItems(keys))
      stored ??= items.reduce((sum, { value }) => sum + (isIndex(value) ? value.end : 0), 0)
      return stored
    },
    async close() {
      if (closed) return
      closed = true
      await options.release()
    },
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw createError('E_BAD_REQUEST', `invalid range: offset ${offset}, length ${length}`)
  }
}

function isIndex(value: unknown): value is BlobIndex {
  const v = value as BlobIndex | null
  return (
    typeof v === 'object' &&
    v !== null &&
    Number.isSafeInteger(v.end) &&
    v.end >= 0 &&
    Number.isSafeInteger(v.blockSize) &&
    v.blockSize > 0 &&
    v.blockSize <= MAX_BLOCK_SIZE
  )
}

/** Calls `fn(n, from, to)` for each block n that [start, end) touches, with the part of the range inside it; at most PARALLEL_BLOCKS at once. */
async function forEachBlock(start: number, end: number, blockSize: number, fn: (n: number, from: number, to: number) => Promise<void>): Promise<void> {
  if (end <= start) return
  let next = Math.floor(start / blockSize)
  const last = Math.floor((end - 1) / blockSize)
  const worker = async (): Promise<void> => {
    while (next <= last) {
      const n = next++
      await fn(n, Math.max(start, n * blockSize), Math.min(end, (n + 1) * blockSize))
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_BLOCKS, last - Math.floor(start / blockSize) + 1) }, worker))
}
