import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { denoWriteThread } from './deno-write-thread.ts'

/** Direct I/O takes offsets, lengths and memory in whole device blocks; 4 KiB covers 512-byte and 4 KiB devices. */
const DIRECT_ALIGN = 4096

/** Undefined where the platform has no O_DIRECT (macOS, Windows). */
const O_DIRECT: number | undefined = constants.O_DIRECT

/** Memory a direct read was refused for: read through the page cache from then on. */
const unaligned = new WeakSet<ArrayBufferLike>()

/** Whether direct writes are still worth trying; shared by a storage's files (one refusal is enough to know). */
export interface DirectWrites {
  enabled: boolean
}

/**
 * One task's data file. Reads and most writes go through the page cache;
 * with direct writes enabled, a write of whole aligned blocks goes through a
 * second descriptor opened with O_DIRECT, from the caller's memory straight
 * to the disk. Why: a peer's download is written once and rarely read back
 * at once, and copying it into the page cache was the largest kernel cost of
 * a get (perf on a 1 GiB get: 1.0-2.6 s of CPU per GiB, more when the VM had
 * to hand the guest fresh pages; the direct writes cost ~0.25 s). Reads of
 * that range afterwards come from the disk. Memory that is not aligned, or a
 * file system without O_DIRECT (EINVAL), turns direct writes off for the
 * storage and the write is done through the page cache instead. On Deno,
 * direct writes of shared memory go to a thread of their own
 * (`deno-write-thread.ts`): Deno's node:fs would write on the event loop.
 */
export class DataFile {
  private direct: Promise<FileHandle | null> | null = null
  /** This file's name on Deno's write thread, once a write went there. */
  private threadFile: number | undefined

  constructor(
    private readonly path: string,
    readonly handle: FileHandle,
    private readonly directWrites: DirectWrites,
  ) {}

  async write(data: Uint8Array, offset: number): Promise<void> {
    let done = 0
    if (this.directWrites.enabled && offset % DIRECT_ALIGN === 0 && data.byteLength % DIRECT_ALIGN === 0) {
      done = (await this.writeOnThread(data, offset)) ?? (await this.writeDirect(data, offset))
    }
    while (done < data.byteLength) done += (await this.handle.write(data, done, data.byteLength - done, offset + done)).bytesWritten
  }

  /**
   * Reads into `target` at `offset`; returns the bytes read (fewer only at the end of the file). `once`, on a
   * store with direct writes: whole aligned blocks are read with O_DIRECT, from the disk into `target`, without
   * a copy through the page cache (what a direct write left there is on the disk anyway). Memory the kernel
   * refuses (not page-aligned) is remembered and read through the page cache.
   */
  async read(target: Uint8Array, offset: number, once = false): Promise<number> {
    let done = 0
    if (once && this.directWrites.enabled && !unaligned.has(target.buffer) && offset % DIRECT_ALIGN === 0 && target.byteLength % DIRECT_ALIGN === 0) {
      const direct = await this.openDirect()
      if (direct) done = await this.readDirect(direct, target, offset)
    }
    while (done < target.byteLength) {
      const { bytesRead } = await this.handle.read(target, done, target.byteLength - done, offset + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return done
  }

  async close(): Promise<void> {
    if (this.threadFile !== undefined) await denoWriteThread?.close(this.threadFile)
    const direct = await this.direct?.catch(() => null)
    await Promise.allSettled([direct?.close(), this.handle.close()])
  }

  /** Bytes written directly; stops early (for the page cache to finish) when the kernel refuses direct I/O here. */
  private async writeDirect(data: Uint8Array, offset: number): Promise<number> {
    const direct = await this.openDirect()
    if (!direct) return 0
    return directly(
      data.byteLength,
      async (done) => (await direct.write(data, done, data.byteLength - done, offset + done)).bytesWritten,
      () => {
        this.directWrites.enabled = false
      },
    )
  }

  /**
   * Bytes written directly on Deno's write thread; undefined where it does not take them (not Deno, memory that
   * is not shared, the thread not ready yet, or gone before it answered).
   */
  private async writeOnThread(data: Uint8Array, offset: number): Promise<number | undefined> {
    const thread = denoWriteThread
    if (!thread || !(data.buffer instanceof SharedArrayBuffer) || !thread.ready()) return undefined
    this.threadFile ??= thread.fileId()
    const { done, refused, gone } = await thread.write(this.threadFile, this.path, data, offset)
    if (refused) this.directWrites.enabled = false
    return gone ? undefined : done
  }

  /** Bytes read directly; stops early at the file's end, or for the page cache to go on where the kernel refuses. */
  private readDirect(direct: FileHandle, target: Uint8Array, offset: number): Promise<number> {
    return directly(
      target.byteLength,
      async (done) => (await direct.read(target, done, target.byteLength - done, offset + done)).bytesRead,
      () => unaligned.add(target.buffer),
    )
  }

  private openDirect(): Promise<FileHandle | null> {
    this.direct ??=
      O_DIRECT === undefined
        ? Promise.resolve(null)
        : open(this.path, constants.O_RDWR | O_DIRECT).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'EINVAL') this.directWrites.enabled = false
            return null
          })
    return this.direct
  }
}

/**
 * Whole-block steps on an O_DIRECT descriptor until `length` bytes are done; returns how many were. Stops at a
 * short step (the file's end, a partial block) and, calling `refused`, where the kernel says EINVAL.
 */
async function directly(length: number, step: (done: number) => Promise<number>, refused: () => void): Promise<number> {
  let done = 0
  try {
    while (done < length) {
      const n = await step(done)
      if (n === 0 || n % DIRECT_ALIGN !== 0) return done + n
      done += n
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error
    refused()
  }
  return done
}
