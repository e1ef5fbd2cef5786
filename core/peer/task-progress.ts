/**
 * Wake-ups for readers of a download in progress: the peer engine calls
 * `notify(taskId)` whenever a task's layout is known or a piece is verified;
 * a reader takes `next(taskId)` *before* it looks at the task's state, so a
 * notification between its look and its wait is never lost.
 */
export class TaskProgress {
  private readonly waiters = new Map<string, Set<() => void>>()

  notify(taskId: string): void {
    const set = this.waiters.get(taskId)
    if (!set) return
    this.waiters.delete(taskId)
    for (const wake of set) wake()
  }

  /** Resolves at the next `notify(taskId)`, or at once if `signal` is aborted. */
  next(taskId: string, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      let set = this.waiters.get(taskId)
      if (!set) this.waiters.set(taskId, (set = new Set()))
      const wake = (): void => {
        signal?.removeEventListener('abort', wake)
        set.delete(wake)
        resolve()
      }
      set.add(wake)
      signal?.addEventListener('abort', wake, { once: true })
    })
  }
}
