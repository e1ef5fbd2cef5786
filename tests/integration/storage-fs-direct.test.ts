import { constants } from 'node:fs'
import { readdir, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import storageFs, { createFsStorage } from '../../plugins/storage-fs/index.ts'
import { allocateShared } from '../../runtime/node-hash-thread.ts'
import { tempDir } from '../helpers/cli.ts'

const KEY = createHash('sha256').update('direct').digest('hex')
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
