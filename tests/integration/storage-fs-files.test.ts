import { open, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createFsStorage, MAX_OPEN_FILES } from '../../plugins/storage-fs/index.ts'
import { OpenFiles } from '../../plugins/storage-fs/open-files.ts'
import { tempDir } from '../helpers/cli.ts'

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
    // Let the closes of trimmed files finish.
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await openUnder(dir)).toBeLessThanOrEqual(MAX_OPEN_FILES)
    expect(await openUnder(dir)).toBeGreaterThan(0)
    for (let i = 0; i < count; i++) {
      const want = `task ${i}`
      expect(new TextDecoder().decode(await storage.readAt(keyOf(i), 0, want.length))).toBe(want)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(await openUnder(dir)).toBeLessThanOrEqual(MAX_OPEN_FILES)
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
