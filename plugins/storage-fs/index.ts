import { copyFile, lstat, mkdir, open, readdir, readFile, rename, rm, stat, statfs, unlink, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import * as v from 'valibot'
import { definePlugin } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { STORAGE_KEY_RE, type StorageDriver } from '../../core/contract/storage.ts'
import { createError } from '../../core/errors.ts'
import { DataFile, type DirectWrites } from './data-file.ts'
import { denoWriteThread } from './deno-write-thread.ts'
import { fileBody } from './file-body.ts'
import { OpenFiles } from './open-files.ts'

export const PLUGIN_NAME = 'storage-fs'

/** Data files kept open between operations (least recently used closed first). */
export const MAX_OPEN_FILES = 64

export interface StorageFsOptions {
  /**
   * Root directory; content goes to `<dir>/data/<key>`, metadata to `<dir>/meta/<key>.json`.
   * @default `<home>/<namespace>` (e.g. `~/.dragonfly/peer`)
   */
  dir?: string
  /**
   * Write whole aligned blocks around the page cache (O_DIRECT, Linux), from
   * the receiver's memory straight to the disk; see `DataFile`. Falls back to
   * the page cache where the file system or the memory does not allow it.
   * Turn it off for a store on a network file system (NFS, SMB), where each
   * direct write waits for the server.
   * @default true for a peer's store (`get`, `daemon`); false for the
   * supernode's CDN cache, which serves what it just wrote from the page cache
   */
  direct?: boolean
}

const OPTIONS = v.strictObject({
  dir: v.optional(v.string()),
  direct: v.optional(v.boolean()),
} satisfies PluginOptionsEntries<StorageFsOptions>)

/** The default storage: one sparse file per task, written at offsets, and atomic JSON metadata. */
export default definePlugin((options: StorageFsOptions = {}) => {
  const { dir, direct } = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  return {
    name: PLUGIN_NAME,
    storage: (context) => createFsStorage(dir ?? join(context.home, context.namespace), { direct: direct ?? context.namespace === 'peer' }),
  }
})

export function createFsStorage(dir: string, options: Pick<StorageFsOptions, 'direct'> = {}): StorageDriver {
  const dataDir = join(dir, 'data')
  const metaDir = join(dir, 'meta')

  const checkKey = (key: string): string => {
    if (!STORAGE_KEY_RE.test(key)) throw createError('E_BAD_REQUEST', `invalid storage key ${JSON.stringify(key)}`)
    return key
  }
  const dataPath = (key: string): string => join(dataDir, checkKey(key))
  const metaPath = (key: string): string => join(metaDir, `${checkKey(key)}.json`)

  /** Only writes create a data file (a read of a removed key must not bring back an empty file). */
  const directWrites: DirectWrites = { enabled: options.direct ?? false }
  // Deno's write thread ends when the last store that may use it closes.
  const threadUser = directWrites.enabled ? denoWriteThread : undefined
  threadUser?.openStore()
  let closed = false
  const files = new OpenFiles(MAX_OPEN_FILES, async (key, create) => {
    const path = dataPath(key)
    const handle = await open(path, 'r+').catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT' || !create) throw error
      await mkdir(dataDir, { recursive: true })
      return open(path, 'w+')
    })
    return new DataFile(path, handle, directWrites)
  })
  /** Runs `fn` on the data file of `key`; a failure to open it is E_IO/E_NO_SPACE "cannot open". */
  const withFile = async <T>(key: string, create: boolean, fn: (file: DataFile) => Promise<T>): Promise<T> => {
    checkKey(key)
    let opened = false
    return files
      .use(key, create, (file) => ((opened = true), fn(file)))
      .catch((error) => {
        throw opened ? error : io(`cannot open ${key}`, error)
      })
  }
  const io = (what: string, error: unknown) =>
    createError((error as NodeJS.ErrnoException)?.code === 'ENOSPC' ? 'E_NO_SPACE' : 'E_IO', `${PLUGIN_NAME}: ${what}: ${(error as Error)?.message ?? error}`, {
      cause: error,
    })

  const fromFile = fileBody
  const readInto = (key: string, offset: number, target: Uint8Array, hint?: { once?: boolean }): Promise<void> =>
    withFile(key, false, async (file) => {
      const done = await file.read(target, offset, hint?.once === true)
      if (done < target.byteLength) throw createError('E_IO', `${PLUGIN_NAME}: ${key} is shorter than ${offset + target.byteLength} bytes`)
    })

  return {
    name: PLUGIN_NAME,
    writeAt(key, offset, data) {
      return withFile(key, true, async (file) => {
        try {
          await file.write(data, offset)
        } catch (error) {
          throw io(`cannot write ${key}`, error)
        }
      })
    },
    async readAt(key, offset, length) {
      const out = new Uint8Array(length)
      await readInto(key, offset, out)
      return out
    },
    readInto,
    ...(fromFile && {
      bodyAt: (key: string, offset: number, length: number) =>
        fromFile(dataPath(key), offset, length).catch((error) => {
          throw io(`cannot open ${key}`, error)
        }),
    }),
    async remove(key) {
      await files.close(key)
      await rm(dataPath(key), { force: true })
      await rm(metaPath(key), { force: true })
    },
    async getMeta<T>(key: string) {
      try {
        return JSON.parse(await readFile(metaPath(key), 'utf8')) as T
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return null
        throw io(`cannot read metadata of ${key}`, error)
      }
    },
    async setMeta(key, value) {
      const path = metaPath(key)
      const tmp = `${path}.${crypto.randomUUID()}.tmp`
      try {
        await mkdir(metaDir, { recursive: true })
        await writeFile(tmp, JSON.stringify(value))
        await rename(tmp, path)
      } catch (error) {
        await rm(tmp, { force: true })
        throw io(`cannot write metadata of ${key}`, error)
      }
    },
    async listKeys() {
      const names = await readdir(metaDir).catch(() => [] as string[])
      return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5))
    },
    async exportTo(key, path) {
      await files.close(key)
      const from = dataPath(key)
      await mkdir(dirname(path), { recursive: true })
      // Replacing a file by rename makes ext4 write the new data back first (auto_da_alloc):
      // measured 0.41 s for a 1 GiB file just written. The old file is removed first instead.
      if ((await lstat(path).catch(() => null))?.isFile()) await unlink(path).catch(() => {})
      try {
        await rename(from, path)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw io(`cannot move ${key} to ${path}`, error)
        // Another filesystem: copy beside the target, then rename, so `path` never holds a partial file.
        const tmp = `${path}.${crypto.randomUUID()}.tmp`
        try {
          await copyFile(from, tmp)
          await rename(tmp, path)
        } catch (copyError) {
          await rm(tmp, { force: true })
          throw io(`cannot copy ${key} to ${path}`, copyError)
        }
        await rm(from, { force: true })
      }
      await rm(metaPath(key), { force: true })
    },
    async usage() {
      let total = 0
      for (const name of await readdir(dataDir).catch(() => [] as string[])) {
        total += (await stat(join(dataDir, name)).catch(() => ({ blocks: 0 }))).blocks * 512
      }
      return total
    },
    async available() {
      try {
        await mkdir(dir, { recursive: true })
        const fs = await statfs(dir)
        return fs.bavail * fs.bsize
      } catch {
        return null // a runtime without statfs: the write itself reports a full disk (E_NO_SPACE)
      }
    },
    async close() {
      await files.closeAll()
      // Else Deno's write thread would hold the process open for its idle time.
      if (!closed) threadUser?.closeStore()
      closed = true
    },
  }
}
