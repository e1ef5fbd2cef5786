import type { EventQueue } from './event-queue.ts'

/** A machine's link, in bytes per second. */
export interface Host {
  up: number
  down: number
  uploads: Set<Transfer>
  downloads: Set<Transfer>
}

export interface Transfer {
  from: Host
  to: Host
  remaining: number
  rate: number
  updatedAt: number
  /** Bumped on every rate change; completion events of older versions are stale. */
  version: number
  active: boolean
}

export function createHost(up: number, down: number): Host {
  return { up, down, uploads: new Set(), downloads: new Set() }
}

/**
 * Fair share per link end: a transfer gets min(up(from) / uploads(from),
 * down(to) / downloads(to)). Not max-min fair (capacity left by a capped
 * transfer is not redistributed), which errs on the slow side. Rates are
 * recomputed only for transfers sharing an end with the one that changed.
 */
export class Network {
  private readonly queue: EventQueue
  private readonly onDone: (t: Transfer) => void
  bytesDelivered = 0

  constructor(queue: EventQueue, onDone: (t: Transfer) => void) {
    this.queue = queue
    this.onDone = onDone
  }

  start<T extends Transfer>(transfer: Omit<T, 'rate' | 'updatedAt' | 'version' | 'active'>): T {
    const t = { ...transfer, rate: 0, updatedAt: this.queue.now, version: 0, active: true } as T
    t.from.uploads.add(t)
    t.to.downloads.add(t)
    this.reflow(t.from, t.to)
    return t
  }

  /** Stops a transfer without delivering it (peer gone, duplicate won, timeout). */
  abort(t: Transfer): void {
    if (!t.active) return
    this.settle(t)
    this.detach(t)
  }

  private detach(t: Transfer): void {
    t.active = false
    t.version++
    t.from.uploads.delete(t)
    t.to.downloads.delete(t)
    this.reflow(t.from, t.to)
  }

  private settle(t: Transfer): void {
    const now = this.queue.now
    const moved = Math.min(t.remaining, t.rate * (now - t.updatedAt))
    t.remaining -= moved
    this.bytesDelivered += moved
    t.updatedAt = now
  }

  private reflow(from: Host, to: Host): void {
    for (const t of from.uploads) this.rerate(t)
    for (const t of to.downloads) if (t.from !== from) this.rerate(t)
  }

  private rerate(t: Transfer): void {
    this.settle(t)
    const rate = Math.min(t.from.up / t.from.uploads.size, t.to.down / t.to.downloads.size)
    if (rate === t.rate && t.version > 0) return
    t.rate = rate
    const version = ++t.version
    this.queue.after(t.remaining / rate, () => {
      if (t.version !== version || !t.active) return
      this.settle(t)
      t.remaining = 0
      this.detach(t)
      this.onDone(t)
    })
  }
}
