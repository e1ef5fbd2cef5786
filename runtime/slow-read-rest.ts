/**
 * Rests for a socket whose body trickles in. A read smaller than SMALL_READ
 * while more of the body is due means a slow flow (a shaped or shared link,
 * several pieces side by side): the socket then stops reading until about
 * GATHER_BYTES should be waiting in the kernel, at most MAX_REST_MS, and the
 * next read takes them in one go. Without it a slow link split among several
 * pieces brings a few KB per read, and each read costs a wake-up, a syscall
 * and a turn of the reader (figures: bench/README.md, "CPU per byte").
 */
const SMALL_READ = 16 * 1024
const GATHER_BYTES = 128 * 1024
const MAX_REST_MS = 100
/** Rests shorter than this are not worth a timer. */
const MIN_REST_MS = 4
/** A rate measured over less time than this is noise (two reads a few µs apart on a fast link). */
const MIN_MEASURE_MS = 5

export class SlowReadRest {
  private timer: ReturnType<typeof setTimeout> | undefined
  /** When the current body's first read came (performance.now()), and its bytes: the rate is measured after it. */
  private firstAt = 0
  private firstBytes = 0
  private received = 0

  /** `resume` restarts reading when a rest ends (the owner decides whether it may). */
  constructor(private readonly resume: () => void) {}

  /** A new body starts. */
  reset(): void {
    this.wake()
    this.received = 0
  }

  /**
   * Called after each read of `n` bytes with the body bytes still due;
   * returns true when the socket should pause now (a timer resumes it).
   */
  after(n: number, remaining: number): boolean {
    const now = performance.now()
    if (this.received === 0) {
      this.firstAt = now
      this.firstBytes = n
    }
    this.received += n
    const measured = now - this.firstAt
    if (n >= SMALL_READ || remaining <= 0 || measured < MIN_MEASURE_MS) return false
    const rate = (this.received - this.firstBytes) / measured
    const ms = Math.min(MAX_REST_MS, Math.min(GATHER_BYTES, remaining) / rate)
    if (!(ms >= MIN_REST_MS)) return false
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.resume()
    }, ms)
    return true
  }

  /** Ends a rest early (the body is over, or the socket closed). */
  wake(): void {
    if (this.timer === undefined) return
    clearTimeout(this.timer)
    this.timer = undefined
    this.resume()
  }
}
