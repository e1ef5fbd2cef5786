/** What is kept open: a FileHandle, or anything that closes like one. */
interface Closable {
  close(): Promise<void>
}

interface OpenFile<T extends Closable> {
  handle: Promise<T>
  /** Operations running on it: it is not closed under them. */
  users: number
}

/**
 * The data files kept open between operations, at most `max`, the least
 * recently used closed first. A daemon or supernode holds one file per
 * cached task; without a bound, every task read since start kept a file
 * descriptor until it was removed.
 */
export class OpenFiles<T extends Closable> {
  private readonly files = new Map<string, OpenFile<T>>()

  constructor(
    private readonly max: number,
    private readonly opener: (key: string, create: boolean) => Promise<T>,
  ) {}

  /** Files open now. */
  get size(): number {
    return this.files.size
  }

  /** Runs `fn` on the open file of `key` (opened, or created with `create`); it stays open until `fn` settles. */
  async use<R>(key: string, create: boolean, fn: (file: T) => Promise<R>): Promise<R> {
    let file = this.files.get(key)
    if (file) {
      // Most recently used last: Map keeps insertion order.
      this.files.delete(key)
      this.files.set(key, file)
    } else {
      const opened: OpenFile<T> = { handle: this.opener(key, create), users: 0 }
      opened.handle.catch(() => {
        if (this.files.get(key) === opened) this.files.delete(key)
      })
      this.files.set(key, opened)
      file = opened
    }
    file.users++
    try {
      return await fn(await file.handle)
    } finally {
      file.users--
      this.trim()
    }
  }

  /** Closes the file of `key` now (before it is removed or moved). */
  async close(key: string): Promise<void> {
    const file = this.files.get(key)
    this.files.delete(key)
    if (file) await closeQuietly(file)
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.files.keys()].map((key) => this.close(key)))
  }

  private trim(): void {
    for (const [key, file] of this.files) {
      if (this.files.size <= this.max) return
      if (file.users > 0) continue
      this.files.delete(key)
      void closeQuietly(file)
    }
  }
}

async function closeQuietly(file: OpenFile<Closable>): Promise<void> {
  await (await file.handle.catch(() => null))?.close().catch(() => {})
}
