/**
 * When a downloading peer pulls, and how much it asks for. It follows the
 * ratio of a pull's round trip to a piece's transfer time.
 *
 * Lookahead: assignments held beyond the pieces in flight, so that a slot
 * freed while a pull is on its way starts at once. None on paced links (a
 * piece takes seconds, a pull milliseconds; holding assignments there would
 * only tie up the sources' upload slots), one or two on a fast local
 * download. Measured on a 1 GiB get from a warm supernode: pulls took 4-19 ms
 * while pieces took ~35 ms per slot, and the four slots were busy 70 % of the
 * time.
 *
 * Batch: where there is lookahead, results are reported `PULL_BATCH` at a
 * time and as many more assignments are held, instead of one pull per
 * finished piece, which on a 1 GiB get (256 pieces) made 156 pulls, each
 * ~0.7 ms of the peer's CPU and about as much of the supernode's; batches of
 * 4 made 74.
 */
export class PullPace {
  private pullMs = 0
  private pieceMs = 0

  constructor(private readonly concurrency: number) {}

  pullTook(ms: number): void {
    this.pullMs = this.pullMs ? this.pullMs * 0.8 + ms * 0.2 : ms
  }

  pieceTook(ms: number): void {
    this.pieceMs = this.pieceMs ? this.pieceMs * 0.8 + ms * 0.2 : ms
  }

  lookahead(): number {
    if (!this.pieceMs || !this.pullMs) return 0
    return Math.min(this.concurrency, Math.round((this.concurrency * this.pullMs) / this.pieceMs))
  }

  /** Results gathered before the next pull while pieces are still running and none waits for a slot. */
  batch(): number {
    return this.lookahead() > 0 ? PULL_BATCH : 1
  }

  /** Assignments to ask for, given the pieces running and those already held. */
  want(running: number, queued: number): number {
    return Math.max(0, this.concurrency + this.lookahead() + this.batch() - 1 - running - queued)
  }
}

export const PULL_BATCH = 4
