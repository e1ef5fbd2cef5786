/**
 * Long-poll waiters of one swarm, oldest first. A change wakes as many of them
 * as it can give work to, not all: with 10,000 peers waiting for a cold
 * source, waking every waiter on every new piece made each piece cost 10,000
 * scheduler calls that nearly all came back empty.
 */
export class WakeQueue {
  // A FIFO with lazy removal: cancelled entries stay until they reach the head.
  // (A Set emptied from the front keeps its holes, and iterating past them made each wake O(waiters).)
  private queue: { wake: (() => void) | null }[] = []
  private head = 0
  private live = 0

  get size(): number {
    return this.live
  }

  /** Calls `wake` once, when woken. Returns a cancel function. Timer-free. */
  add(wake: () => void): () => void {
    const entry = { wake: wake as (() => void) | null }
    // Waits that time out without a wake leave cancelled entries behind: drop them now and then.
    if (this.queue.length > 1024 && this.queue.length > 4 * this.live) this.compact()
    this.queue.push(entry)
    this.live++
    return () => {
      if (entry.wake === null) return
      entry.wake = null
      this.live--
    }
  }

  /** Wakes the `count` oldest waiters (all with Infinity). */
  wake(count: number): void {
    let n = Math.min(count, this.live)
    while (n > 0) {
      const entry = this.queue[this.head++]!
      const wake = entry.wake
      if (wake === null) continue
      entry.wake = null
      this.live--
      n--
      wake()
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) this.compact()
  }

  private compact(): void {
    this.queue = this.queue.slice(this.head).filter((e) => e.wake !== null)
    this.head = 0
  }

  /**
   * Resolves when woken or after `timeoutMs`, whichever is first; an abort of
   * any of `signals` resolves it too. Several signals rather than one
   * `AbortSignal.any`: a composite made per wait with a long-lived signal (the
   * supernode's shutdown) stays in that signal's list on Node 20, a little
   * memory for every pull ever answered; listeners are removed when done.
   */
  wait(timeoutMs: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        cancel()
        for (const signal of signals) signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      const cancel = this.add(done)
      for (const signal of signals) {
        if (signal?.aborted) return done()
        signal?.addEventListener('abort', done)
      }
    })
  }
}
