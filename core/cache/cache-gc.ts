import type { StorageDriver } from '../contract/storage.ts'

export interface CacheGcOptions {
  /** Bytes the cache may hold; 0 disables collection. */
  quotaBytes: number
  /** Collect when usage passes this share of the quota. @default 0.9 */
  highWatermark?: number
  /** ...down to this share. @default 0.7 */
  lowWatermark?: number
}

export interface GcCandidate {
  key: string
  bytes: number
  /** Least recently used go first. */
  lastUsed: number
}

export interface GcResult {
  before: number
  after: number
  removed: string[]
}

/**
 * LRU eviction between watermarks: nothing happens below the high watermark;
 * above it, the least recently used entries that nobody is using right now are
 * removed until usage is under the low watermark. Pure policy plus one storage
 * call per removal, so supernode and daemon share it.
 */
export async function collectGarbage(
  storage: StorageDriver,
  candidates: GcCandidate[],
  usage: number,
  options: CacheGcOptions,
  remove: (key: string) => Promise<void> = (key) => storage.remove(key),
): Promise<GcResult> {
  const result: GcResult = { before: usage, after: usage, removed: [] }
  const { quotaBytes } = options
  if (quotaBytes <= 0 || usage <= quotaBytes * (options.highWatermark ?? 0.9)) return result
  const target = quotaBytes * (options.lowWatermark ?? 0.7)
  for (const c of [...candidates].sort((a, b) => a.lastUsed - b.lastUsed)) {
    if (result.after <= target) break
    await remove(c.key)
    result.after -= c.bytes
    result.removed.push(c.key)
  }
  return result
}
