import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { constants } from 'node:fs'
import { open, readdir, readFile, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import storageFs, { createFsStorage, MAX_OPEN_FILES } from '../../plugins/storage-fs/index.ts'
import { OpenFiles } from '../../plugins/storage-fs/open-files.ts'
import { allocateShared } from '../../runtime/page-memory.ts'
import { testStorage } from '../../testing/index.ts'
import { tempDir } from '../helpers/cli.ts'
import { optionError } from '../helpers/option-error.ts'

const KEY = createHash('sha256').update('direct').digest('hex')

describe('storage-fs', () => {
  it('passes testStorage in both namespaces, direct writes on and off, and in a dir of its own', async () => {
    const home = await tempDir()
    await testStorage(storageFs(), { context: { home, namespace: 'peer' } })
    await testStorage(storageFs(), { context: { home, namespace: 'cdn' } })
    await testStorage(storageFs({ direct: false, dir: join(home, 'elsewhere') }), { context: { home, namespace: 'peer' } })
  })

  it('keeps content in <dir>/data and metadata in <dir>/meta, dir defaulting to <home>/<namespace>', async () => {
    const home = await tempDir()
    for (const [plugin, dir] of [
      [storageFs(), join(home, 'cdn')],
      [storageFs({ dir: join(home, 'own') }), join(home, 'own')],
    ] as const) {
      const storage = plugin.storage({ home, namespace: 'cdn' })
      await storage.writeAt(KEY, 0, new Uint8Array(10).fill(7))
      await storage.setMeta(KEY, { ok: true })
      expect((await stat(join(dir, 'data', KEY))).size).toBe(10)
      expect(JSON.parse(await readFile(join(dir, 'meta', `${KEY}.json`), 'utf8'))).toEqual({ ok: true })
      await storage.close?.()
    }
  })

  it('refuses misspelt and mistyped options', () => {
    expect(optionError(() => storageFs({ Dir: '/srv/df' } as never))).toBe('storage-fs: unknown option `Dir` (did you mean `dir`?); known: dir, direct')
    expect(optionError(() => storageFs({ directIO: false } as never))).toMatch(/unknown option `directIO` \(did you mean `direct`\?\)/)
    expect(optionError(() => storageFs({ direct: 'no' } as never))).toBe('storage-fs: option `direct` must be true or false, got a string')
  })
})

const MiB = 1024 * 1024

/** Open flags of this process's descriptors on `path` (from /proc/self/fdinfo). */
async function flagsOf(path: string): Promise<number[]> {
  const flags: number[] = []
  for (const fd of await readdir('/proc/self/fd')) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) !== path) continue
    const info = await readFile(`/proc/self/fdinfo/${fd}`, 'utf8').catch(() => '')
    const m = /flags:\s+([0-7]+)/.exec(info)
    if (m) flags.push(Number.parseInt(m[1]!, 8))
  }
  return flags
}

const directOpen = async (dir: string): Promise<boolean> => (await flagsOf(join(dir, 'data', KEY))).some((f) => (f & constants.O_DIRECT) !== 0)

const pattern = (bytes: Uint8Array, seed: number): Uint8Array => {
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * seed + (i >> 12)) & 0xff
  return bytes
}

describe('storage-fs direct writes (O_DIRECT)', () => {
  it('writes whole aligned blocks from aligned memory around the page cache; unaligned ranges through it; every byte reads back', async () => {
    const dir = await tempDir()
    const storage = createFsStorage(dir, { direct: true })
    const aligned = pattern(allocateShared(2 * MiB), 5)
    await storage.writeAt(KEY, 4 * MiB, aligned)
    expect(await directOpen(dir)).toBe(true)
    // A file's last piece: neither its offset nor its length is a whole block.
    const tail = pattern(new Uint8Array(10_000), 9)
    await storage.writeAt(KEY, 6 * MiB + 123, tail)
    const head = pattern(allocateShared(MiB), 3)
    await storage.writeAt(KEY, 0, head)
    expect(Buffer.compare(await storage.readAt(KEY, 4 * MiB, 2 * MiB), aligned)).toBe(0)
    expect(Buffer.compare(await storage.readAt(KEY, 6 * MiB + 123, tail.byteLength), tail)).toBe(0)
    expect(Buffer.compare(await storage.readAt(KEY, 0, MiB), head)).toBe(0)
    // Rewriting a range read through the page cache just before: the read after sees the new bytes.
    const again = pattern(allocateShared(2 * MiB), 17)
    await storage.writeAt(KEY, 4 * MiB, again)
    expect(Buffer.compare(await storage.readAt(KEY, 4 * MiB, 2 * MiB), again)).toBe(0)
    await storage.close?.()
  })

  it('memory the kernel refuses for direct I/O (not aligned) is written through the page cache instead, with no error', async () => {
    const dir = await tempDir()
    const storage = createFsStorage(dir, { direct: true })
    // One byte into a larger allocation: never page-aligned.
    const unaligned = pattern(new Uint8Array(MiB + 1), 7).subarray(1)
    await storage.writeAt(KEY, 0, unaligned)
    expect(Buffer.compare(await storage.readAt(KEY, 0, MiB), unaligned)).toBe(0)
    // Aligned memory afterwards still lands (through the page cache now).
    const aligned = pattern(allocateShared(MiB), 13)
    await storage.writeAt(KEY, MiB, aligned)
    expect(Buffer.compare(await storage.readAt(KEY, MiB, MiB), aligned)).toBe(0)
    await storage.close?.()
  })

  it('a read once (a content stream) of whole blocks into aligned memory goes around the page cache; every byte is right', async () => {
    const dir = await tempDir()
    const storage = createFsStorage(dir, { direct: true })
    const body = pattern(allocateShared(4 * MiB), 11)
    await storage.writeAt(KEY, 0, body)
    // Bytes of the file in the page cache (util-linux's fincore).
    const cached = (): number => Number(execFileSync('fincore', ['-b', '-n', '-o', 'RES', join(dir, 'data', KEY)], { encoding: 'utf8' }).trim())
    const before = cached()
    const into = allocateShared(2 * MiB)
    await storage.readInto!(KEY, MiB, into, { once: true })
    expect(Buffer.compare(into, body.subarray(MiB, 3 * MiB))).toBe(0)
    expect(cached()).toBe(before)
    // Memory the kernel refuses (one byte in) and a range that is not whole blocks: through the page cache, right all the same.
    const unaligned = new Uint8Array(MiB + 1).subarray(1)
    await storage.readInto!(KEY, 0, unaligned, { once: true })
    expect(Buffer.compare(unaligned, body.subarray(0, MiB))).toBe(0)
    const odd = allocateShared(5000)
    await storage.readInto!(KEY, 3 * MiB + 100, odd, { once: true })
    expect(Buffer.compare(odd, body.subarray(3 * MiB + 100, 3 * MiB + 5100))).toBe(0)
    // Without the hint (a piece served to a peer, maybe again soon) the read fills the page cache.
    await storage.readInto!(KEY, 2 * MiB, allocateShared(MiB))
    expect(cached()).toBeGreaterThan(before)
    // Past the end of the file: a clear error, not a short read.
    await expect(storage.readInto!(KEY, 3 * MiB, allocateShared(2 * MiB), { once: true })).rejects.toMatchObject({ code: 'E_IO' })
    await storage.close?.()
  })

  it('is on for a peer store and off for the supernode cache unless configured', async () => {
    const home = await tempDir()
    const write = async (namespace: 'peer' | 'cdn', options = {}) => {
      const storage = storageFs(options).storage!({ home, namespace })
      await storage.writeAt(KEY, 0, pattern(allocateShared(MiB), 1))
      const direct = await directOpen(join(home, namespace))
      await storage.close?.()
      return direct
    }
    expect(await write('peer')).toBe(true)
    expect(await write('cdn')).toBe(false)
    expect(await write('cdn', { direct: true })).toBe(true)
    expect(await write('peer', { direct: false })).toBe(false)
  })
})

/** This process's open file descriptors that point under `dir`. */
async function openUnder(dir: string): Promise<number> {
  let n = 0
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
    if (target.startsWith(dir)) n++
  }
  return n
}

const keyOf = (i: number): string => createHash('sha256').update(String(i)).digest('hex')

describe('storage-fs keeps a bounded number of data files open', () => {
  it('writes and reads 3x MAX_OPEN_FILES tasks with at most MAX_OPEN_FILES descriptors, and every byte comes back', async () => {
    const dir = await tempDir()
    const storage = createFsStorage(dir)
    const count = MAX_OPEN_FILES * 3
    for (let i = 0; i < count; i++) await storage.writeAt(keyOf(i), 0, new TextEncoder().encode(`task ${i}`))
    // The closes of trimmed files run in the background: wait until they are done (or fail after 5 s).
    await until(async () => (await openUnder(dir)) <= MAX_OPEN_FILES)
    expect(await openUnder(dir)).toBeGreaterThan(0)
    for (let i = 0; i < count; i++) {
      const want = `task ${i}`
      expect(new TextDecoder().decode(await storage.readAt(keyOf(i), 0, want.length))).toBe(want)
    }
    await until(async () => (await openUnder(dir)) <= MAX_OPEN_FILES)
    await storage.close?.()
    expect(await openUnder(dir)).toBe(0)
  })

  it('does not close a file while an operation runs on it, however many others push it out', async () => {
    const dir = await tempDir()
    const files = new OpenFiles(4, (key) => open(join(dir, key), 'w+'))
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const busy = files.use('busy', true, async (fh) => {
      await fh.write(new Uint8Array([1]), 0, 1, 0)
      await gate
      // Still open after twelve other files came and went.
      await fh.write(new Uint8Array([2]), 0, 1, 1)
      return (await fh.stat()).size
    })
    for (let i = 0; i < 12; i++) await files.use(`other-${i}`, true, (fh) => fh.write(new Uint8Array([i]), 0, 1, 0))
    expect(files.size).toBeLessThanOrEqual(5)
    release()
    expect(await busy).toBe(2)
    await files.closeAll()
    expect(await openUnder(dir)).toBe(0)
  })

  it('keeps its error codes: a bad key is E_BAD_REQUEST, a missing task is E_IO, both without opening anything', async () => {
    const dir = await tempDir()
    const storage = createFsStorage(dir)
    await expect(storage.readAt('../etc/passwd', 0, 1)).rejects.toMatchObject({ code: 'E_BAD_REQUEST' })
    await expect(storage.readAt(keyOf(1), 0, 1)).rejects.toMatchObject({ code: 'E_IO' })
    expect(await openUnder(dir)).toBe(0)
  })
})

/** Resolves once `check` holds; fails the test if it does not within `ms`. */
async function until(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
