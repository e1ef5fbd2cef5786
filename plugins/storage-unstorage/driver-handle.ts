import { type BuiltinDriverName, builtinDrivers, createStorage, type Driver, type Storage } from 'unstorage'
import { createError } from '../../core/errors.ts'

/**
 * One unstorage `Storage` shared by every store a plugin instance opens (a
 * process may open the CDN and a peer namespace on the same connection). A
 * driver named in the config is imported on first use, so a config naming
 * `redis` does not load ioredis until a store is opened. The driver is
 * disposed when the last store closes (its connection would keep the process
 * alive otherwise).
 */
export interface DriverHandle {
  /** Counts a store as open; pair with `release`. */
  retain(): void
  /** The shared storage; rejects with E_PLUGIN when a named driver cannot be loaded. */
  storage(): Promise<Storage>
  release(): Promise<void>
}

export function createDriverHandle(plugin: string, driver: Driver | BuiltinDriverName, options: Record<string, unknown>): DriverHandle {
  let opened: Promise<Storage> | null = null
  let users = 0
  return {
    retain() {
      users++
    },
    storage() {
      opened ??= (typeof driver === 'string' ? loadDriver(plugin, driver, options) : Promise.resolve(driver)).then((d) => createStorage({ driver: d }))
      return opened
    },
    async release() {
      if (users === 0 || --users > 0 || !opened) return
      const closing = opened
      opened = null
      await (await closing.catch(() => null))?.dispose()
    },
  }
}

export function isBuiltinDriverName(name: string): name is BuiltinDriverName {
  return Object.hasOwn(builtinDrivers, name)
}

async function loadDriver(plugin: string, name: BuiltinDriverName, options: Record<string, unknown>): Promise<Driver> {
  let factory: (options: Record<string, unknown>) => Driver
  try {
    factory = ((await import(builtinDrivers[name])) as { default: typeof factory }).default
  } catch (error) {
    // e.g. "Cannot find package 'ioredis' imported from …": the driver's own client library is an optional peer of unstorage.
    const missing = /Cannot find (?:package|module) '([^']+)'/.exec(String((error as Error)?.message))?.[1]
    const hint = missing ? `: it needs ${missing}, which is not installed (npm install ${missing})` : `: ${(error as Error)?.message ?? error}`
    throw createError('E_PLUGIN', `${plugin}: cannot load unstorage driver \`${name}\`${hint}`, { cause: error })
  }
  try {
    return factory(options)
  } catch (error) {
    throw createError('E_PLUGIN', `${plugin}: unstorage driver \`${name}\` refused its options: ${(error as Error)?.message ?? error}`, { cause: error })
  }
}
