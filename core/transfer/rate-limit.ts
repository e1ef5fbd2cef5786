/**
 * Bandwidth limits (`--rate-limit`, `--total-limit`): a token bucket kept as
 * a virtual clock. Each `take(n)` books `n / rate` seconds after the previous
 * booking and waits until that moment, so over any window the bytes that
 * pass stay within `rate × window + burst`. A limiter may have a parent (a
 * task's limit under the host's total): bytes pass only when both allow.
 */
export class RateLimiter {
  /** Bytes per second. */
  readonly rate: number
  readonly parent?: RateLimiter
  /** Unused time a quiet limiter may bank, in ms: a short burst after idling, and room to catch up after a late timer or a busy CPU. */
  private readonly burstMs: number
  /** When the bytes booked so far have passed, in `performance.now()` ms. */
  private cursor = 0

  constructor(bytesPerSecond: number, parent?: RateLimiter, burstMs = 200) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond))
      throw new RangeError(`rate must be a positive number of bytes per second, got ${bytesPerSecond}`)
    this.rate = bytesPerSecond
    this.parent = parent
    this.burstMs = burstMs
  }

  /** The rate bytes actually get through here: this limit or a tighter one above it. */
  get effectiveRate(): number {
    return this.parent ? Math.min(this.rate, this.parent.effectiveRate) : this.rate
  }

  /** Waits until `bytes` may pass (here and in every parent). Rejects if `signal` aborts first. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (bytes > 0) {
      const now = performance.now()
      this.cursor = Math.max(this.cursor, now - this.burstMs) + (bytes / this.rate) * 1000
      const wait = this.cursor - now
      if (wait >= 1) await sleep(wait, signal)
    }
    if (this.parent) await this.parent.take(bytes, signal)
  }
}

/** A limit per direction: what this host (or task) receives and what it serves. */
export interface Limits {
  down?: RateLimiter
  up?: RateLimiter
}

/** Limiters for a rate in bytes/s (none for 0 or undefined), under `parent`'s. */
export function createLimits(bytesPerSecond: number | undefined, parent: Limits = {}): Limits {
  if (!bytesPerSecond) return parent
  return { down: new RateLimiter(bytesPerSecond, parent.down), up: new RateLimiter(bytesPerSecond, parent.up) }
}

/**
 * Bytes booked with a limiter at a time, on both sides of a transfer: small
 * enough to keep the pace smooth (125 ms of a 2 MiB/s link), large enough to
 * be cheap. Each step is a timer and a stream read; with 64 KiB steps, 32
 * rate-limited peers on two cores spent 46 CPU-s where 256 KiB steps spend
 * 36 (npm run bench:swarm -- --peers 32 --size 48 --rate 2MB).
 */
export const PACING_STEP = 256 * 1024

/** A body that hands `bytes` to the transport no faster than `limiter` allows. */
export function limitedBody(bytes: Uint8Array, limiter: RateLimiter): ReadableStream<Uint8Array> {
  let offset = 0
  const aborter = new AbortController()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (offset >= bytes.byteLength) return controller.close()
      const chunk = bytes.subarray(offset, offset + PACING_STEP)
      offset += chunk.byteLength
      await limiter.take(chunk.byteLength, aborter.signal)
      controller.enqueue(chunk)
    },
    cancel() {
      aborter.abort()
    },
  })
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal!.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
