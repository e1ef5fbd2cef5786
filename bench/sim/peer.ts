import { PullPace } from '../../core/peer/pull-pace.ts'
import { type PieceResult, SUPERNODE_ID } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import type { PieceLayout } from '../../core/protocol/piece-layout.ts'
import { pieceRange } from '../../core/protocol/piece-layout.ts'
import type { Assignment } from '../../core/supernode/scheduler/scheduler.ts'
import type { EventQueue } from './event-queue.ts'
import { createHost, type Host, type Network, type Transfer } from './network.ts'
import type { PeerSpec } from './scenario.ts'

export interface PieceTransfer extends Transfer {
  piece: number
  /** Scheduler id of the source: a peer id or SUPERNODE_ID. */
  source: string
  receiver: SimMember
  startedAt: number
}

/** What the world sees of a simulated peer, whichever protocol it speaks. */
export interface SimMember {
  readonly spec: PeerSpec
  readonly id: string
  readonly host: Host
  readonly have: Bitset
  state: 'pending' | 'active' | 'done' | 'gone'
  doneAt: number
  rejoins: number
  join(): void
  stop(): void
  received(t: PieceTransfer): void
  failed(t: PieceTransfer, error: PieceResult['error']): void
}

/** What a simulated peer sees of the world; the simulation implements it. */
export interface PeerWorld {
  queue: EventQueue
  network: Network
  layout: PieceLayout
  want: number
  /** Seconds before a fetch gives up, like the real peer's pieceTimeoutMs. */
  pieceTimeout: number
  seedHost: Host
  peer(id: string): SimMember | undefined
  /** Registers (again, with what it holds, after the supernode expired it); `answer` when the supernode replied. */
  register(peer: SimMember, answer: () => void): void
  /** One pull request; the answer comes back later (or at once without charging), `null` when the supernode no longer knows the peer. */
  pull(peer: SimPeer, results: PieceResult[], want: number, wait: boolean, answer: (assignments: Assignment[] | null) => void): void
  delivered(t: PieceTransfer, bytes: number): void
  completed(peer: SimMember): void
  depart(peer: SimMember): void
}

/**
 * One peer running the real peer's pull loop (core/peer/swarm-download.ts):
 * one pull at a time, asking for `PullPace.want` pieces; the next pull once
 * nothing runs, a batch of results is in, or a result is in and its slot
 * has nothing queued; ask to be held (long-poll) only when nothing runs.
 * Assignments beyond the free slots wait in `queued` and start as slots free.
 * PullPace (the real class) adds lookahead and batches only once pulls take a
 * sizeable share of a piece's time, so with the supernode uncharged (pulls
 * take no time) the loop asks for `want - running` on every settled fetch.
 */
export class SimPeer implements SimMember {
  readonly spec: PeerSpec
  readonly host: Host
  readonly have: Bitset
  readonly running = new Map<number, PieceTransfer[]>()
  /** Fetches started and not settled (transfers, and assignments of pieces already held). */
  private jobs = 0
  private readonly queued: Assignment[] = []
  private results: PieceResult[] = []
  private readonly pace: PullPace
  /** A pull (or a registration) is out. */
  private asking = false
  private askedAt = 0
  private askedToWait = false
  rejoins = 0
  state: 'pending' | 'active' | 'done' | 'gone' = 'pending'
  doneAt = NaN
  private readonly world: PeerWorld

  constructor(spec: PeerSpec, world: PeerWorld) {
    this.spec = spec
    this.world = world
    this.host = createHost(spec.up, spec.down)
    this.have = new Bitset(world.layout.pieceCount)
    this.pace = new PullPace(world.want)
  }

  get id(): string {
    return this.spec.id
  }

  /** Arrives: registers, then pulls. */
  join(): void {
    this.asking = true
    this.world.register(this, () => {
      this.asking = false
      this.state = 'active'
      this.pull()
    })
  }

  /** Pulls if one is due and none is out. */
  pull(): void {
    if (this.state !== 'active' || this.asking) return
    if (this.jobs > 0 && !this.pullDue()) return
    this.giveUpSlowFetches()
    const wait = this.jobs === 0
    this.asking = true
    this.askedAt = this.world.queue.now
    this.askedToWait = wait
    this.world.pull(this, this.results.splice(0), this.pace.want(this.jobs, this.queued.length), wait, (a) => this.answered(a))
  }

  private pullDue(): boolean {
    const n = this.results.length
    return n >= this.pace.batch() || (n > 0 && this.queued.length === 0 && this.jobs < this.world.want)
  }

  private answered(assignments: Assignment[] | null): void {
    this.asking = false
    if (this.state === 'done') return this.report(assignments ?? [])
    if (this.state !== 'active') return
    if (assignments === null) return this.rejoin()
    if (!this.askedToWait) this.pace.pullTook((this.world.queue.now - this.askedAt) * 1000)
    for (const a of assignments) {
      if (this.jobs < this.world.want) this.fetch(a)
      else this.queued.push(a)
    }
    // With nothing running an empty answer is a long-poll that timed out: the real loop asks again.
    this.pull()
  }

  /** The supernode expired this peer (its queue held the heartbeats too long): register again with what it holds. */
  private rejoin(): void {
    this.rejoins++
    this.asking = true
    this.world.register(this, () => {
      this.asking = false
      this.pull()
    })
  }

  /** A freed slot takes the next queued assignment at once, without waiting for a pull. */
  private startQueued(): void {
    while (this.jobs < this.world.want && this.queued.length > 0) this.fetch(this.queued.shift()!)
  }

  private fetch(a: Assignment): void {
    const { world } = this
    this.jobs++
    if (this.have.has(a.piece)) return world.queue.after(0, () => this.settle({ piece: a.piece, from: a.from, ok: true, bytes: 0 }))
    const from = a.from === SUPERNODE_ID ? world.seedHost : world.peer(a.from)
    if (!from || (from !== world.seedHost && (from as SimMember).state === 'gone')) {
      // A vanished host: the connection attempt fails after a short while.
      world.queue.after(1, () => this.settle({ piece: a.piece, from: a.from, ok: false, error: 'unreachable' }))
      return
    }
    const t = world.network.start<PieceTransfer>({
      from: from === world.seedHost ? world.seedHost : (from as SimMember).host,
      to: this.host,
      remaining: pieceRange(world.layout, a.piece).length,
      piece: a.piece,
      source: a.from,
      receiver: this,
      startedAt: world.queue.now,
    })
    const list = this.running.get(a.piece)
    if (list) list.push(t)
    else this.running.set(a.piece, [t])
  }

  /** The network finished `t`: store the piece, drop duplicates, report, pull. */
  received(t: PieceTransfer): void {
    if (this.state !== 'active') return
    const bytes = pieceRange(this.world.layout, t.piece).length
    this.forget(t)
    this.have.set(t.piece)
    this.world.delivered(t, bytes)
    this.results.push({ piece: t.piece, from: t.source, ok: true, bytes })
    this.pace.pieceTook((this.world.queue.now - t.startedAt) * 1000)
    this.jobs--
    // End-game duplicates of a piece we now hold are cancelled and reported as done, as the real peer does.
    for (const other of this.running.get(t.piece) ?? []) {
      this.world.network.abort(other)
      this.results.push({ piece: t.piece, from: other.source, ok: true, bytes: 0 })
      this.jobs--
    }
    this.running.delete(t.piece)
    if (this.spec.leaveAt !== null && this.have.count >= this.spec.leaveAt * this.have.size && !this.have.complete) return this.world.depart(this)
    if (this.have.complete) return this.finish()
    this.startQueued()
    this.pull()
  }

  /** A fetch failed (source gone); report it on the next pull. */
  failed(t: PieceTransfer, error: PieceResult['error']): void {
    this.world.network.abort(t)
    this.forget(t)
    this.settle({ piece: t.piece, from: t.source, ok: false, error })
  }

  private settle(result: PieceResult): void {
    if (this.state !== 'active') return
    this.results.push(result)
    this.jobs--
    this.startQueued()
    this.pull()
  }

  private forget(t: PieceTransfer): void {
    const list = this.running.get(t.piece)
    if (!list) return
    const i = list.indexOf(t)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) this.running.delete(t.piece)
  }

  private giveUpSlowFetches(): void {
    const limit = this.world.queue.now - this.world.pieceTimeout
    for (const list of this.running.values()) {
      for (const t of [...list]) {
        if (t.startedAt > limit) continue
        this.world.network.abort(t)
        this.forget(t)
        this.results.push({ piece: t.piece, from: t.source, ok: false, error: 'timeout' })
        this.jobs--
      }
    }
  }

  private finish(): void {
    this.doneAt = this.world.queue.now
    this.state = 'done'
    this.world.completed(this)
    if (!this.asking) this.report([])
  }

  /** The final report; assignments still queued or handed out after the last piece arrived are for pieces held: reported done, as the real peer does. */
  private report(late: Assignment[]): void {
    for (const a of [...this.queued.splice(0), ...late]) this.results.push({ piece: a.piece, from: a.from, ok: true, bytes: 0 })
    this.world.pull(this, this.results.splice(0), 0, false, () => {})
  }

  /** Stops downloading and serving; in-flight transfers die with it. */
  stop(): void {
    this.state = 'gone'
    for (const list of this.running.values()) for (const t of list) this.world.network.abort(t)
    this.running.clear()
    for (const t of [...this.host.uploads] as PieceTransfer[]) t.receiver.failed(t, 'unreachable')
  }
}
