import type { BuiltinDriverName, Driver } from 'unstorage'
import * as v from 'valibot'
import { definePlugin } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { createError } from '../../core/errors.ts'
import { createBlockStore, MAX_BLOCK_SIZE } from './block-store.ts'
import { createDriverHandle, isBuiltinDriverName } from './driver-handle.ts'

export const PLUGIN_NAME = 'storage-unstorage'

export interface StorageUnstorageOptions {
  /**
   * Where the cache lives: an unstorage driver (`redisDriver({ url })` from
   * `unstorage/drivers/redis`), or the name of one of unstorage's built-in
   * drivers (`'redis'`, `'s3'`, `'fs'`, …), created with `options` when the
   * first store opens. The driver's own client library (ioredis for redis,
   * …) must be installed beside dragonfly.
   */
  driver: Driver | BuiltinDriverName
  /**
   * Options of a driver given by name (e.g. `{ url: 'redis://cache:6379' }`).
   * @default {}
   */
  options?: Record<string, unknown>
  /**
   * Prefix of every key, before the role's namespace (`<base>:cdn:…`,
   * `<base>:peer:…`). Give each node its own when nodes share one database.
   * @default '' (keys start with the namespace)
   */
  base?: string
  /**
   * Bytes per stored value: a task's content is kept as values of this size.
   * A power of two from 4096 to 64 MiB. At or below the smallest piece size
   * (128 KiB) every piece is whole values and only a task's last value is
   * patched; larger values mean fewer keys but read-patch-write cycles.
   * @default 131072
   */
  blockSize?: number
  /**
   * Milliseconds each call into the driver may take before it fails with
   * `E_IO` (a store that stopped answering must not hang a download).
   * @default 30000
   */
  timeout?: number
}

const isDriver = (value: unknown): value is Driver =>
  typeof value === 'object' &&
  value !== null &&
  ['getItem', 'setItem', 'removeItem', 'getKeys'].every((m) => typeof (value as Record<string, unknown>)[m] === 'function')

const OPTIONS = v.strictObject({
  driver: v.custom<Driver | BuiltinDriverName>(
    (value) => typeof value === 'string' || isDriver(value),
    "must be an unstorage driver with getItem, setItem, removeItem and getKeys, or a driver's name such as 'redis'",
  ),
  options: v.optional(v.record(v.string(), v.unknown()), {}),
  base: v.optional(v.pipe(v.string(), v.regex(/^([0-9A-Za-z_.-]+(:[0-9A-Za-z_.-]+)*)?$/, 'must be words of letters, digits, _ . - joined by :')), ''),
  blockSize: v.optional(
    v.pipe(
      v.number(),
      v.check((n) => Number.isInteger(n) && n >= 4096 && n <= MAX_BLOCK_SIZE && (n & (n - 1)) === 0, `must be a power of two from 4096 to ${MAX_BLOCK_SIZE}`),
    ),
    128 * 1024,
  ),
  timeout: v.optional(v.pipe(v.number(), v.integer('must be whole milliseconds'), v.minValue(1, 'must be at least 1')), 30_000),
} satisfies PluginOptionsEntries<StorageUnstorageOptions>)

/** The supernode's cache or a peer's pieces on any unstorage driver: Redis, S3, a file system, … */
export default definePlugin((options: StorageUnstorageOptions) => {
  const { driver, options: driverOptions, base, blockSize, timeout } = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  if (typeof driver === 'string' && !isBuiltinDriverName(driver)) {
    throw createError(
      'E_PLUGIN',
      `${PLUGIN_NAME}: unknown unstorage driver \`${driver}\` (built-in ones: fs, redis, s3, mongodb, …; or pass a driver instance)`,
    )
  }
  if (typeof driver !== 'string' && Object.keys(driverOptions).length > 0) {
    throw createError('E_PLUGIN', `${PLUGIN_NAME}: \`options\` are for a driver given by name; a driver instance takes its options where it is created`)
  }
  const handle = createDriverHandle(PLUGIN_NAME, driver, driverOptions)
  return {
    name: PLUGIN_NAME,
    storage: (context) => {
      handle.retain()
      return createBlockStore({
        name: PLUGIN_NAME,
        prefix: base ? `${base}:${context.namespace}` : context.namespace,
        blockSize,
        timeout,
        storage: handle.storage,
        release: handle.release,
      })
    },
  }
})
