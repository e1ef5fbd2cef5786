import { open, rename, rm } from 'node:fs/promises'
import type { StorageDriver } from '../core/contract/storage.ts'
import { createError } from '../core/errors.ts'

const CHUNK = 4 * 1024 * 1024

/**
 * Moves a finished download from storage to its output path. The file shows
 * up at `output` only complete: drivers without `exportTo` are copied to a
 * temp name beside it first, then renamed.
 */
export async function exportFile(storage: StorageDriver, key: string, output: string): Promise<void> {
  if (storage.exportTo) return storage.exportTo(key, output)
  const meta = await storage.getMeta<{ contentLength?: number }>(key)
  const size = meta?.contentLength
  if (typeof size !== 'number') throw createError('E_IO', `storage ${storage.name} has no length for ${key}`)
  const tmp = `${output}.dragonfly-${crypto.randomUUID()}.tmp`
  const fh = await open(tmp, 'w')
  try {
    for (let at = 0; at < size; at += CHUNK) await fh.write(await storage.readAt(key, at, Math.min(CHUNK, size - at)))
    await fh.close()
    await rename(tmp, output)
  } catch (error) {
    await fh.close().catch(() => {})
    await rm(tmp, { force: true })
    throw error
  }
  await storage.remove(key)
}
