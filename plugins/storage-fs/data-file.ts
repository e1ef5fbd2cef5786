import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'

/** Direct I/O takes offsets, lengths and memory in whole device blocks; 4 KiB covers 512-byte and 4 KiB devices. */
const DIRECT_ALIGN = 4096

/** Undefined where the platform has no O_DIRECT (macOS, Windows). */
const O_DIRECT: number | undefined = constants.O_DIRECT

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
 * storage and the write is done through the page cache instead.
 */
export class DataFile {
  private direct: Promise<FileHandle | null> | null = null

  constructor(
    private readonly path: string,
    readonly handle: FileHandle,
    private readonly directWrites: DirectWrites,
  ) {}

  async write(data: Uint8Array, offset: number): Promise<void> {
    let done = 0
    if (this.directWrites.enabled && offset % DIRECT_ALIGN === 0 && data.byteLength % DIRECT_ALIGN === 0) {
      const direct = await this.openDirect()
      if (direct) done = await this.writeDirect(direct, data, offset)
    }
    while (done < data.byteLength) done += (await this.handle.write(data, done, data.byteLength - done, offset + done)).bytesWritten
  }

  async close(): Promise<void> {
    const direct = await this.direct?.catch(() => null)
    await Promise.allSettled([direct?.close(), this.handle.close()])
  }

  /** Bytes written directly; stops early (for the page cache to finish) when the kernel refuses direct I/O here. */
  private async writeDirect(direct: FileHandle, data: Uint8Array, offset: number): Promise<number> {
    let done = 0
    try {
      while (done < data.byteLength) {
        const { bytesWritten } = await direct.write(data, done, data.byteLength - done, offset + done)
        if (bytesWritten === 0 || bytesWritten % DIRECT_ALIGN !== 0) return done + bytesWritten
        done += bytesWritten
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error
      this.directWrites.enabled = false
    }
    return done
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
