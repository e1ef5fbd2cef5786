/** One registered wake-up for a task (see `TaskProgress.watch`). */
export interface ProgressWatch {
  /** Resolves at the next `notify(taskId)`, or once the watch's signal aborts. */
  changed: Promise<void>
  /** Drops the wake-up; the watcher stops waiting. Without it, a watch stays until the task next changes. */
  cancel(): void
}

/**
 * Wake-ups for readers of a download in progress: the peer engine calls
 * `notify(taskId)` whenever a task's layout is known or a piece is verified;
 * a reader takes `watch(taskId)` *before* it looks at the task's state, so a
 * notification between its look and its wait is never lost, and cancels the
 * watch when the look found what it wanted. A finished task is never notified
 * again: a watch left behind on it would be held for the life of the peer
 * (the daemon's, serving its cache all day).
 */
export class TaskProgress {
  private readonly waiters = new Map<string, Set<() => void>>()

  notify(taskId: string): void {
    const set = this.waiters.get(taskId)
    if (!set) return
    this.waiters.delete(taskId)
    for (const wake of set) wake()
  }

  /** A wake-up at the next `notify(taskId)`, or at once if `signal` is (or gets) aborted. */
  watch(taskId: string, signal?: AbortSignal): ProgressWatch {
    let wake = (): void => {}
    const changed = new Promise<void>((resolve) => {
      wake = () => {
        signal?.removeEventListener('abort', wake)
        const set = this.waiters.get(taskId)
        if (set?.delete(wake) && set.size === 0) this.waiters.delete(taskId)
        resolve()
      }
    })
    if (signal?.aborted) wake()
    else {
      let set = this.waiters.get(taskId)
      if (!set) this.waiters.set(taskId, (set = new Set()))
      set.add(wake)
      signal?.addEventListener('abort', wake, { once: true })
    }
    return { changed, cancel: wake }
  }

  /** Wake-ups registered for a task and not yet woken or cancelled. */
  waiting(taskId: string): number {
    return this.waiters.get(taskId)?.size ?? 0
  }
}
