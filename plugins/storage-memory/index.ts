import * as v from 'valibot'
import { definePlugin } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { STORAGE_KEY_RE, type StorageDriver } from '../../core/contract/storage.ts'
import { createError } from '../../core/errors.ts'

export const PLUGIN_NAME = 'storage-memory'

export interface StorageMemoryOptions {
  /**
   * Refuse writes beyond this many bytes in total.
   * @default Infinity
   */
  maxBytes?: number
}

const OPTIONS = v.strictObject({
  maxBytes: v.optional(v.pipe(v.number(), v.minValue(0, 'must be at least 0')), Infinity),
} satisfies PluginOptionsEntries<StorageMemoryOptions>)

/** Pieces and metadata in memory, per role namespace: for tests, demos and short-lived peers. */
export default definePlugin((options: StorageMemoryOptions = {}) => {
  const checked = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  return { name: PLUGIN_NAME, storage: () => createMemoryStorage(checked) }
})

export function createMemoryStorage(options: StorageMemoryOptions = {}): StorageDriver {
  const { maxBytes: limit } = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  const blobs = new Map<string, { buf: Uint8Array; length: number }>()
  const metas = new Map<string, string>()
  let total = 0
  const checkKey = (key: string): string => {
    if (!STORAGE_KEY_RE.test(key)) throw createError('E_BAD_REQUEST', `invalid storage key ${JSON.stringify(key)}`)
    return key
  }
  return {
    name: PLUGIN_NAME,
    async writeAt(key, offset, data) {
      const blob = blobs.get(checkKey(key)) ?? { buf: new Uint8Array(0), length: 0 }
      const end = offset + data.byteLength
      if (end > blob.length) {
        if (total + end - blob.length > limit) throw createError('E_IO', `${PLUGIN_NAME}: over maxBytes (${limit})`)
        if (end > blob.buf.byteLength) {
          // Grow geometrically so piece-by-piece writes stay linear overall.
          const grown = new Uint8Array(Math.max(end, blob.buf.byteLength * 2))
          grown.set(blob.buf.subarray(0, blob.length))
          blob.buf = grown
        }
        total += end - blob.length
        blob.length = end
      }
      blob.buf.set(data, offset)
      blobs.set(key, blob)
    },
    async readAt(key, offset, length) {
      const blob = blobs.get(checkKey(key))
      if (!blob || offset + length > blob.length) throw createError('E_IO', `${PLUGIN_NAME}: ${key} is shorter than ${offset + length} bytes`)
      return blob.buf.slice(offset, offset + length)
    },
    async readInto(key, offset, target) {
      const blob = blobs.get(checkKey(key))
      if (!blob || offset + target.byteLength > blob.length)
        throw createError('E_IO', `${PLUGIN_NAME}: ${key} is shorter than ${offset + target.byteLength} bytes`)
      target.set(blob.buf.subarray(offset, offset + target.byteLength))
    },
    async remove(key) {
      total -= blobs.get(checkKey(key))?.length ?? 0
      blobs.delete(key)
      metas.delete(key)
    },
    async getMeta<T>(key: string) {
      const json = metas.get(checkKey(key))
      return json === undefined ? null : (JSON.parse(json) as T)
    },
    async setMeta(key, value) {
      metas.set(checkKey(key), JSON.stringify(value))
    },
    async listKeys() {
      return [...metas.keys()]
    },
    async usage() {
      return total
    },
  }
}
