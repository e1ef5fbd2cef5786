import { type PieceResult, type ReceivedFrom, type SourceFailure, SYNC_DIGESTS } from '../../core/protocol/api-schema.ts'
import type { Bitset } from '../../core/protocol/bitset.ts'
import type { Assignment } from '../../core/supernode/scheduler/scheduler.ts'
import type { Swarm, SyncReport } from '../../core/supernode/scheduler/swarm.ts'
import type { EventQueue } from './event-queue.ts'
import type { PullMeter } from './pull-meter.ts'
import type { Handler, SupernodeCore } from './supernode-core.ts'

/** The supernode's long-poll timeout (supernode-app: longPollMs). */
const LONG_POLL_S = 15

/** sync-route.ts: a held sync answers within LONG_POLL_CAP_MS and looks again every SPARE_CHECK_MS. */
const SYNC_HOLD_S = 5
const SYNC_RECHECK_S = 0.5

/** A sync request of the parents protocol (SyncBody, parsed). */
export interface SimSyncBody {
  have?: Bitset
  received: ReceivedFrom[]
  failed: SourceFailure[]
  digestsFrom: number
  seed: number
  dry: boolean
}

/** Its answer; `digestsTo`: the digests it carried reach up to this piece (the supernode stores pieces in order). */
export interface SimSyncAnswer {
  parents: string[]
  seed: number[]
  seedSlots: number
  /** When to sync next (s), unless the peer needs something sooner. */
  syncAfter: number
  digestsTo: number
}

/** A pull the supernode holds (long-poll) until the swarm wakes it or its deadline passes. */
interface Held {
  want: number
  deadline: number
  answer: (assignments: Assignment[] | null) => void
  cancel: () => void
}

/**
 * The peer API of core/supernode/app.ts on the simulated clock: each request
 * runs on the supernode's core (`SupernodeCore`) and answers through a
 * callback. A pull with `wait` that gets nothing is held: the swarm's own
 * wake-ups (`Swarm.onWake`) run it again as the same request, and at its
 * deadline it answers with nothing. A request for a peer the swarm no longer
 * knows (expired) answers `null`.
 */
export class SimSupernode {
  private readonly queue: EventQueue
  private readonly swarm: Swarm
  private readonly core: SupernodeCore
  private readonly meter: PullMeter
  private readonly held = new Map<string, Held>()
  wakeups = 0

  constructor(queue: EventQueue, swarm: Swarm, core: SupernodeCore, meter: PullMeter) {
    this.queue = queue
    this.swarm = swarm
    this.core = core
    this.meter = meter
  }

  private get nowMs(): number {
    return this.queue.now * 1000
  }

  register(id: string, info: { location: string; slots: number; have?: Bitset }, answer: () => void): void {
    this.core.send('register', () => {
      this.swarm.register(id, { address: `sim://${id}`, location: info.location, slots: info.slots, have: info.have?.toBase64() }, this.nowMs)
      return { results: 0, assignments: 0, answer }
    })
  }

  pull(id: string, results: PieceResult[], want: number, wait: boolean, answer: (assignments: Assignment[] | null) => void): void {
    this.core.send('pull', () => {
      if (!this.swarm.peers.has(id)) return { results: results.length, assignments: 0, answer: () => answer(null) }
      const assignments = this.schedule(id, results, want)
      const work = { results: results.length, assignments: assignments.length }
      if (assignments.length > 0 || !wait || this.swarm.peer(id).have.complete) return { ...work, answer: () => answer(assignments) }
      this.hold(id, { want, deadline: this.queue.now + LONG_POLL_S, answer })
      return work
    })
  }

  /** The peer's 10-second keep-alive: a pull with no results and want 0, whose answer it ignores (an expired peer learns it on its next pull). */
  heartbeat(id: string): void {
    this.core.send('heartbeat', () => {
      if (this.swarm.peers.has(id)) this.swarm.pull(id, [], 0, this.nowMs)
      return { results: 0, assignments: 0 }
    })
  }

  leave(id: string): void {
    this.core.send('leave', () => {
      this.swarm.leave(id)
      return { results: 0, assignments: 0 }
    })
  }

  /**
   * The sync route (core/supernode/sync-route.ts): runs `Swarm.sync`; a peer
   * with nothing to fetch (`dry`) that gets nothing useful is held, and
   * `Swarm.sync` runs again on each wake-up or every SYNC_RECHECK_S, until
   * something is useful or SYNC_HOLD_S passed.
   */
  sync(id: string, body: SimSyncBody, answer: (a: SimSyncAnswer | null) => void, kind: 'sync' | 'heartbeat' = 'sync'): void {
    this.core.send(kind, () => {
      if (!this.swarm.peers.has(id)) return { results: 0, assignments: 0, answer: () => answer(null) }
      const report: SyncReport = { have: body.have, received: body.received, failed: body.failed, seed: body.seed, dry: body.dry }
      return this.syncOnce(id, report, body, answer, this.queue.now + SYNC_HOLD_S)
    })
  }

  private syncOnce(id: string, report: SyncReport, body: SimSyncBody, answer: (a: SimSyncAnswer | null) => void, deadline: number) {
    const t0 = performance.now()
    const a = this.swarm.sync(id, report, this.nowMs)
    this.meter.record(performance.now() - t0, a.seed.length)
    const work = { results: 0, assignments: 0, syncs: 1, pieces: this.swarm.layout.pieceCount }
    const from = Math.min(body.digestsFrom, this.swarm.layout.pieceCount)
    let to = from
    while (to < Math.min(this.swarm.layout.pieceCount, from + SYNC_DIGESTS) && this.swarm.digests[to] !== undefined) to++
    const done = this.swarm.peer(id).have.complete
    if (!body.dry || done || a.seed.length > 0 || a.useful || to > from || this.queue.now >= deadline) {
      const out: SimSyncAnswer = { parents: a.parents.map((p) => p.id), seed: a.seed, seedSlots: a.seedSlots, syncAfter: a.syncAfterMs / 1000, digestsTo: to }
      return { ...work, answer: () => answer(out) }
    }
    const rest: SyncReport = { received: [], failed: [], seed: report.seed, dry: true }
    const held: Held = { want: 0, deadline, answer: () => {}, cancel: () => {} }
    const resume = (): void => {
      if (this.held.get(id) !== held) return
      this.held.delete(id)
      held.cancel()
      this.core.resume(() => {
        if (!this.swarm.peers.has(id)) return { results: 0, assignments: 0, answer: () => answer(null) }
        return this.syncOnce(id, rest, { ...body, have: undefined }, answer, deadline)
      }, 'syncWake')
    }
    const off = this.swarm.onWake(() => {
      this.wakeups++
      resume()
    })
    held.cancel = off
    this.held.set(id, held)
    this.queue.at(Math.min(deadline, this.queue.now + SYNC_RECHECK_S), resume)
    return work
  }

  /** Drops a held pull: its peer is gone. */
  cancel(id: string): void {
    this.held.get(id)?.cancel()
    this.held.delete(id)
  }

  private schedule(id: string, results: PieceResult[], want: number): Assignment[] {
    const t0 = performance.now()
    const assignments = this.swarm.pull(id, results, want, this.nowMs)
    if (want > 0) this.meter.record(performance.now() - t0, assignments.length)
    return assignments
  }

  private hold(id: string, h: Omit<Held, 'cancel'>): void {
    const held: Held = { ...h, cancel: () => {} }
    const resume = (): void => {
      if (this.held.get(id) !== held) return
      this.held.delete(id)
      held.cancel()
      this.core.resume(() => this.rerun(id, held))
    }
    held.cancel = this.swarm.onWake(() => {
      this.wakeups++
      resume()
    })
    this.held.set(id, held)
    this.queue.at(held.deadline, resume)
  }

  /** A held pull runs again: it answers when it hands something out, or its deadline has passed; otherwise it waits on. */
  private rerun(id: string, held: Held): ReturnType<Handler> {
    if (!this.swarm.peers.has(id)) return { results: 0, assignments: 0, answer: () => held.answer(null) }
    const assignments = this.schedule(id, [], held.want)
    const work = { results: 0, assignments: assignments.length }
    if (assignments.length > 0 || this.queue.now >= held.deadline || this.swarm.peer(id).have.complete)
      return { ...work, answer: () => held.answer(assignments) }
    this.hold(id, held)
    return work
  }
}
