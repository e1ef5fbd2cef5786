/**
 * Long-poll waiters of one swarm, oldest first. A change wakes as many of them
 * as it can give work to, not all: with 10,000 peers waiting for a cold
 * source, waking every waiter on every new piece made each piece cost 10,000
 * scheduler calls that nearly all came back empty.
 */
export class WakeQueue {
  private waiters = new Set<() => void>()

  get size(): number {
    return this.waiters.size
  }

  /** Calls `wake` once, when woken. Returns a cancel function. Timer-free. */
  add(wake: () => void): () => void {
    const once = (): void => wake()
    this.waiters.add(once)
    return () => this.waiters.delete(once)
  }

  /** Wakes the `count` oldest waiters (all with Infinity). */
  wake(count: number): void {
    let n = count
    for (const wake of this.waiters) {
      if (n-- <= 0) break
      this.waiters.delete(wake)
      wake()
    }
  }

  /** Resolves when woken or after `timeoutMs`, whichever is first; an abort resolves it too. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        cancel()
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      const cancel = this.add(done)
      signal?.addEventListener('abort', done)
    })
  }
}
