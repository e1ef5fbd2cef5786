import { LRUCache } from 'lru-cache'
import type { SupernodeEvents } from './events.ts'

/** Where bytes went: read from the source, sent by the supernode to peers, sent peer to peer. */
export const FLOWS = ['source', 'supernode', 'peers'] as const
export type Flow = (typeof FLOWS)[number]

/** Bytes per time step, oldest first, for each flow (the dashboard's bandwidth chart). */
export interface BandwidthSeries extends Record<Flow, number[]> {
  /** Length of a step (ms). */
  stepMs: number
  /** When the newest step began (ms since the epoch); step `i` of `n` began at `end - (n - 1 - i) * stepMs`. */
  end: number
}

export interface BandwidthHistoryOptions {
  /** @default 1000 */
  stepMs?: number
  /** Steps kept per series. @default 300 (five minutes at 1 s) */
  steps?: number
  /** Tasks with a series of their own; the least recently active one is dropped first. @default 256 */
  tasks?: number
}

/**
 * Bytes over time, as the supernode hears of them: source reads as they
 * happen, deliveries as peers report them (every sync, ~2 s). One ring of
 * buckets per flow for the whole supernode and for each recent task: memory
 * is bounded by `steps` x `tasks`, and nothing runs while no bytes move.
 */
export class BandwidthHistory {
  private readonly stepMs: number
  private readonly steps: number
  private readonly total: Ring
  private readonly tasks: LRUCache<string, Ring>

  constructor(options: BandwidthHistoryOptions = {}) {
    this.stepMs = options.stepMs ?? 1_000
    this.steps = options.steps ?? 300
    this.total = new Ring(this.steps)
    this.tasks = new LRUCache({ max: options.tasks ?? 256 })
  }

  /** Listeners to combine with the supernode's other events. */
  readonly events: SupernodeEvents = {
    sourceBytes: (bytes, task) => this.record(task?.taskId, 'source', bytes, Date.now()),
    pieceDelivered: (from, bytes, task) => this.record(task?.taskId, from === 'supernode' ? 'supernode' : 'peers', bytes, Date.now()),
  }

  record(taskId: string | undefined, flow: Flow, bytes: number, now: number): void {
    if (!(bytes > 0)) return
    const step = Math.floor(now / this.stepMs)
    this.total.add(flow, bytes, step)
    if (taskId === undefined) return
    let ring = this.tasks.get(taskId)
    if (!ring) this.tasks.set(taskId, (ring = new Ring(this.steps)))
    ring.add(flow, bytes, step)
  }

  /** The whole supernode's series, or one task's (all zeros for a task that moved no bytes lately). */
  series(taskId: string | undefined, now: number): BandwidthSeries {
    const step = Math.floor(now / this.stepMs)
    const ring = taskId === undefined ? this.total : (this.tasks.peek(taskId) ?? new Ring(this.steps))
    return { stepMs: this.stepMs, end: step * this.stepMs, ...ring.read(step) }
  }
}

/** `steps` buckets per flow in a circle; `last` is the newest step written or read. */
class Ring {
  private readonly buckets: Record<Flow, Float64Array>
  private last = -Infinity

  constructor(private readonly steps: number) {
    this.buckets = { source: new Float64Array(steps), supernode: new Float64Array(steps), peers: new Float64Array(steps) }
  }

  add(flow: Flow, bytes: number, step: number): void {
    this.advance(step)
    // A clock that stepped back adds to the newest bucket rather than rewriting the past.
    this.buckets[flow][this.slot(this.last)]! += bytes
  }

  read(step: number): Record<Flow, number[]> {
    this.advance(step)
    const out = {} as Record<Flow, number[]>
    for (const flow of FLOWS) {
      const b = this.buckets[flow]
      out[flow] = Array.from({ length: this.steps }, (_, i) => b[this.slot(this.last - this.steps + 1 + i)]!)
    }
    return out
  }

  /** Moves the newest step to `step`, emptying the buckets of the steps in between. */
  private advance(step: number): void {
    if (step <= this.last) return
    const from = step - this.last >= this.steps ? step - this.steps + 1 : this.last + 1
    for (let s = from; s <= step; s++) for (const flow of FLOWS) this.buckets[flow][this.slot(s)] = 0
    this.last = step
  }

  private slot(step: number): number {
    return ((step % this.steps) + this.steps) % this.steps
  }
}
