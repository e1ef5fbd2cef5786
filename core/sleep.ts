/**
 * Waits `ms`, less if `signal` aborts (resolving, not rejecting); the abort
 * listener goes with the wait, so a long-lived signal (a daemon's, alive for
 * days) keeps nothing per wait.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    if (signal?.aborted) done()
    else signal?.addEventListener('abort', done, { once: true })
  })
}
