/** Smallest latency told apart from zero, ms; anything below counts in the first bucket. */
const FLOOR_MS = 0.01
/** Each bucket is this much wider than the one before: quantiles come back within 1 %. */
const GROWTH = 1.01
const LOG_GROWTH = Math.log(GROWTH)

/**
 * Latencies in log-spaced buckets: constant memory whatever the count (a run
 * of a million downloads keeps ~2,000 counters, not a million numbers).
 */
export class LatencyHistogram {
  private readonly counts: number[] = []
  count = 0

  add(ms: number): void {
    const bucket = ms <= FLOOR_MS ? 0 : Math.ceil(Math.log(ms / FLOOR_MS) / LOG_GROWTH)
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1
    this.count++
  }

  /** The upper edge of the bucket holding quantile `q` (0..1); NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return NaN
    const rank = Math.min(this.count - 1, Math.floor(q * this.count))
    let seen = 0
    for (let bucket = 0; bucket < this.counts.length; bucket++) {
      seen += this.counts[bucket] ?? 0
      if (seen > rank) return FLOOR_MS * GROWTH ** bucket
    }
    return NaN
  }
}
