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
  receiver: SimPeer
  startedAt: number
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
  peer(id: string): SimPeer | undefined
  pull(peer: SimPeer, results: PieceResult[], want: number): Assignment[]
  /** Long-poll: the swarm wakes the peer (or the poll times out) and it pulls again. */
  wait(peer: SimPeer): void
  unwait(peer: SimPeer): void
  delivered(t: PieceTransfer, bytes: number): void
  completed(peer: SimPeer): void
  depart(peer: SimPeer): void
}

/**
 * One peer running the real peer's pull loop (core/peer/swarm-download.ts):
 * report results and ask for `want - running` pieces whenever a fetch
 * settles; long-poll (until the swarm wakes it, or 15 s) only when nothing
 * is running and nothing was handed out.
 */
export class SimPeer {
  readonly spec: PeerSpec
  readonly host: Host
  readonly have: Bitset
  readonly running = new Map<number, PieceTransfer[]>()
  private jobs = 0
  private results: PieceResult[] = []
  state: 'pending' | 'active' | 'done' | 'gone' = 'pending'
  doneAt = NaN
  private readonly world: PeerWorld

  constructor(spec: PeerSpec, world: PeerWorld) {
    this.spec = spec
    this.world = world
    this.host = createHost(spec.up, spec.down)
    this.have = new Bitset(world.layout.pieceCount)
  }

  get id(): string {
    return this.spec.id
  }

  pull(): void {
    if (this.state !== 'active') return
    const { world } = this
    this.giveUpSlowFetches()
    const assignments = world.pull(this, this.results.splice(0), Math.max(0, world.want - this.jobs))
    for (const a of assignments) this.fetch(a)
    if (assignments.length === 0 && this.jobs === 0) world.wait(this)
  }

  private fetch(a: Assignment): void {
    const { world } = this
    this.jobs++
    if (this.have.has(a.piece)) return world.queue.after(0, () => this.settle({ piece: a.piece, from: a.from, ok: true, bytes: 0 }))
    const from = a.from === SUPERNODE_ID ? world.seedHost : world.peer(a.from)
    if (!from || (from instanceof SimPeer && from.state === 'gone')) {
      // A vanished host: the connection attempt fails after a short while.
      world.queue.after(1, () => this.settle({ piece: a.piece, from: a.from, ok: false, error: 'unreachable' }))
      return
    }
    const t = world.network.start<PieceTransfer>({
      from: from instanceof SimPeer ? from.host : from,
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
    this.world.pull(this, this.results.splice(0), 0)
    this.state = 'done'
    this.world.completed(this)
  }

  /** Stops downloading and serving; in-flight transfers die with it. */
  stop(): void {
    this.state = 'gone'
    this.world.unwait(this)
    for (const list of this.running.values()) for (const t of list) this.world.network.abort(t)
    this.running.clear()
    for (const t of [...this.host.uploads] as PieceTransfer[]) t.receiver.failed(t, 'unreachable')
  }
}
