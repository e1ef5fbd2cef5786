/** A promise whose settling can be looked at without waiting for it. */
export function tracked(promise: Promise<unknown>): { done: boolean } {
  const state = { done: false }
  promise.then(() => {
    state.done = true
  })
  return state
}

/** Lets every promise callback that is due run; no timer of more than a few ms fires meanwhile. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
