/**
 * One holder per key at a time, in arrival order: a partial block write reads,
 * patches and sets its block back, and must not interleave with another write
 * of the same block. Keys nobody waits on are dropped, so the map holds only
 * what is in flight.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>()

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key)
    let release!: () => void
    const mine = new Promise<void>((resolve) => (release = resolve))
    const tail = before ? before.then(() => mine) : mine
    this.tails.set(key, tail)
    try {
      await before
      return await fn()
    } finally {
      release()
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}
