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
 * How link capacity is shared among the transfers on it.
 * - `per-end`: a transfer gets min(up(from) / uploads(from), down(to) /
 *   downloads(to)). Capacity left by a transfer capped at its other end is
 *   not given to the others, which errs on the slow side; rates are
 *   recomputed only for transfers sharing an end with the one that changed,
 *   so it scales to 10,000 peers.
 * - `max-min`: max-min fair over the whole network (progressive filling), as
 *   long-lived TCP flows sharing drop-tail queues come close to. Every change
 *   recomputes every rate: O(links × transfers), for swarms of tens of peers.
 */
export type Sharing = 'per-end' | 'max-min'

export class Network {
  private readonly queue: EventQueue
  private readonly onDone: (t: Transfer) => void
  private readonly sharing: Sharing
  private readonly all = new Set<Transfer>()
  bytesDelivered = 0

  constructor(queue: EventQueue, onDone: (t: Transfer) => void, sharing: Sharing = 'per-end') {
    this.queue = queue
    this.onDone = onDone
    this.sharing = sharing
  }

  start<T extends Transfer>(transfer: Omit<T, 'rate' | 'updatedAt' | 'version' | 'active'>): T {
    const t = { ...transfer, rate: 0, updatedAt: this.queue.now, version: 0, active: true } as T
    t.from.uploads.add(t)
    t.to.downloads.add(t)
    this.all.add(t)
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
    this.all.delete(t)
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
    if (this.sharing === 'max-min') return this.fill()
    for (const t of from.uploads) this.rerate(t, perEnd(t))
    for (const t of to.downloads) if (t.from !== from) this.rerate(t, perEnd(t))
  }

  /** Progressive filling: the link end with the least share per unfixed transfer fixes them at that share, and so on. */
  private fill(): void {
    const left = new Map<Host, { up: number; upN: number; down: number; downN: number }>()
    const end = (h: Host) => {
      let e = left.get(h)
      if (!e) left.set(h, (e = { up: h.up, upN: 0, down: h.down, downN: 0 }))
      return e
    }
    for (const t of this.all) {
      end(t.from).upN++
      end(t.to).downN++
    }
    const rates = new Map<Transfer, number>()
    while (rates.size < this.all.size) {
      let share = Infinity
      let host: Host | undefined
      let up = true
      for (const [h, e] of left) {
        if (e.upN > 0 && e.up / e.upN < share) [share, host, up] = [e.up / e.upN, h, true]
        if (e.downN > 0 && e.down / e.downN < share) [share, host, up] = [e.down / e.downN, h, false]
      }
      for (const t of up ? host!.uploads : host!.downloads) {
        if (rates.has(t)) continue
        rates.set(t, share)
        const from = left.get(t.from)!
        const to = left.get(t.to)!
        from.up -= share
        from.upN--
        to.down -= share
        to.downN--
      }
    }
    for (const [t, rate] of rates) this.rerate(t, rate)
  }

  private rerate(t: Transfer, rate: number): void {
    this.settle(t)
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

/** `per-end` sharing: the lesser of the two ends' equal shares. */
function perEnd(t: Transfer): number {
  return Math.min(t.from.up / t.from.uploads.size, t.to.down / t.to.downloads.size)
}
