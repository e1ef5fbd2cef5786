import type { StorageDriver } from '../contract/storage.ts'
import { createError } from '../errors.ts'

/**
 * Refuses a download that cannot fit, before a byte is fetched: `need` bytes
 * must be free in the storage that will hold them. Storage that cannot tell
 * passes; its writes still fail with E_NO_SPACE when the disk fills.
 */
export async function ensureSpace(storage: StorageDriver, need: number, what: string): Promise<void> {
  if (need <= 0 || !storage.available) return
  const free = await storage.available().catch(() => null)
  if (free !== null && free < need) {
    throw createError('E_NO_SPACE', `not enough disk space for ${what}: needs ${mib(need)} MiB, ${mib(free)} MiB free in ${storage.name}`, {
      details: { need, free },
    })
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
