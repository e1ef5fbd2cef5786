/**
 * Rate-limited warnings: the first occurrence of a condition is written at
 * once, repeats within `windowMs` are only counted and written as one line
 * with the count when the window closes. A store outage then costs one line
 * per condition and window, not one per task per tick.
 */
export class ProblemLog {
  private readonly open = new Map<string, { repeats: number; last: string; timer: ReturnType<typeof setTimeout> }>()

  constructor(
    private readonly write: (message: string, taskId?: string) => void,
    private readonly windowMs = 10_000,
  ) {}

  /** `condition` groups messages (e.g. "store unreachable"); the message says what happened this time. */
  report(condition: string, message: string, taskId?: string): void {
    const seen = this.open.get(condition)
    if (seen) {
      seen.repeats++
      seen.last = message
      return
    }
    this.write(message, taskId)
    const timer = setTimeout(() => this.flush(condition), this.windowMs)
    ;(timer as { unref?: () => void }).unref?.()
    this.open.set(condition, { repeats: 0, last: message, timer })
  }

  /** Writes the pending counts now (closing, or the condition is over). */
  flush(condition?: string): void {
    for (const [key, seen] of this.open) {
      if (condition !== undefined && key !== condition) continue
      clearTimeout(seen.timer)
      this.open.delete(key)
      const window = this.windowMs >= 1_000 ? `${Math.round(this.windowMs / 1_000)} s` : `${this.windowMs} ms`
      if (seen.repeats > 0) this.write(`${seen.last} (${seen.repeats} more like it in the last ${window})`)
    }
  }
}
