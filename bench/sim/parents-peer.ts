import { pickPiece } from '../../core/peer/piece-picker.ts'
import { seedSlotCap } from '../../core/peer/seed-slots.ts'
import { type PieceResult, type SourceFailure, SUPERNODE_ID } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { pieceRange } from '../../core/protocol/piece-layout.ts'
import { createHost, type Host } from './network.ts'
import { type MapWatch, ParentLinks } from './parent-links.ts'
import type { PeerWorld, PieceTransfer, SimMember } from './peer.ts'
import type { PeerSpec } from './scenario.ts'
import type { SimSyncAnswer, SimSyncBody } from './sim-supernode.ts'

/** The parents protocol's side of the world: a sync instead of a pull. */
export interface ParentsWorld extends Omit<PeerWorld, 'pull'> {
  halfRtt: number
  /** One sync; `answer(null)` when the supernode no longer knows the peer. */
  sync(peer: SimMember, body: SimSyncBody, answer: (a: SimSyncAnswer | null) => void): void
  parents(id: string): ParentsPeer | undefined
}

// The constants of core/peer/swarm-download.ts, in seconds.
const SYNC_INTERVAL_S = 2
const SYNC_INTERVAL_MIN_S = 1
const SYNC_INTERVAL_MAX_S = 20
const DRY_SYNC_SPACING_S = 0.25
const SEED_AHEAD = 2
const PER_PARENT = 3
const ENDGAME_PIECES = 8

/**
 * One peer running core/peer/swarm-download.ts's loop on the simulated
 * clock: sync every 2 s or as the supernode's answer says (sooner when its first-copy grants run low, or,
 * spaced 250 ms, when it has nothing to fetch, which the supernode holds);
 * first copies from the supernode first, then up to PER_PARENT pieces per
 * parent, picked by the real `pickPiece` (rarest among its parents), faster
 * parents first, `want` in all; end game with ENDGAME_PIECES or fewer missing.
 */
export class ParentsPeer implements SimMember {
  readonly spec: PeerSpec
  readonly host: Host
  readonly have: Bitset
  /** Pieces in the order this peer verified them: its piece map as children hear it. */
  readonly log: number[] = []
  readonly watchers = new Set<MapWatch>()
  state: SimMember['state'] = 'pending'
  doneAt = NaN
  rejoins = 0
  private readonly world: ParentsWorld
  private readonly parents: ParentLinks
  private readonly inflight = new Map<number, PieceTransfer[]>()
  private jobs = 0
  private readonly seedQueue: number[] = []
  private seedInflight = 0
  private seedSlots = 1
  private seedEmpty = false
  private readonly bySource = new Map<string, { pieces: number; bytes: number }>()
  private readonly failures: SourceFailure[] = []
  private haveChanged = true
  private digestsKnown = 0
  /** When this peer last synced (the download's own syncs stand in for heartbeats: core/peer/swarm-memberships.ts). */
  lastSync = -Infinity
  private syncInterval = SYNC_INTERVAL_S
  private syncing = false
  private timerAt = Infinity
  private readonly offset: number

  constructor(spec: PeerSpec, world: ParentsWorld) {
    this.spec = spec
    this.world = world
    this.host = createHost(spec.up, spec.down)
    this.have = new Bitset(world.layout.pieceCount)
    this.offset = hashOffset(spec.id, world.layout.pieceCount)
    this.parents = new ParentLinks(
      world.queue,
      world.layout.pieceCount,
      world.halfRtt,
      () => this.tick(),
      (link) =>
        pickPiece({
          parent: link.have,
          have: this.have,
          inflight: this.inflight,
          verifiable: (n) => n < this.digestsKnown,
          availability: this.parents.availability,
          offset: this.offset,
        }) !== undefined,
    )
  }

  get id(): string {
    return this.spec.id
  }

  join(): void {
    this.world.register(this, () => {
      this.state = 'active'
      this.sync(false)
    })
  }

  private sync(dry: boolean): void {
    this.syncing = true
    this.lastSync = this.world.queue.now
    const seed = Math.max(0, this.seedSlots + SEED_AHEAD - this.seedQueue.length - this.seedInflight)
    const body: SimSyncBody = {
      have: this.haveChanged ? Bitset.fromBase64(this.have.size, this.have.toBase64()) : undefined,
      received: [...this.bySource].map(([from, r]) => ({ from, ...r })),
      failed: this.failures.splice(0),
      digestsFrom: this.digestsKnown,
      seed,
      dry,
    }
    this.haveChanged = false
    this.bySource.clear()
    this.world.sync(this, body, (answer) => {
      this.syncing = false
      if (this.state !== 'active') return
      if (answer === null) return this.rejoin()
      this.digestsKnown = Math.max(this.digestsKnown, answer.digestsTo)
      this.parents.update(
        answer.parents.filter((id) => id !== this.id),
        (id) => this.world.parents(id),
      )
      this.seedEmpty = seed > 0 && answer.seed.length === 0
      this.seedSlots = Math.min(answer.seedSlots, seedSlotCap(this.world.want, this.parents.links.size))
      this.syncInterval = Math.min(SYNC_INTERVAL_MAX_S, Math.max(SYNC_INTERVAL_MIN_S, answer.syncAfter))
      for (const n of answer.seed) if (!this.have.has(n) && !this.seedQueue.includes(n)) this.seedQueue.push(n)
      this.tick()
    })
  }

  /** The supernode expired this peer: register again with what it holds, then sync. */
  private rejoin(): void {
    this.rejoins++
    this.haveChanged = true
    this.syncing = true
    this.world.register(this, () => {
      this.syncing = false
      this.sync(false)
    })
  }

  /** One turn of the real loop: start what there is room for, sync when due, arm the timer. */
  private tick(): void {
    if (this.state !== 'active') return
    this.giveUpSlowFetches()
    this.fill()
    const now = this.world.queue.now
    const dry = this.jobs === 0
    const seedLow = !this.seedEmpty && this.seedQueue.length + this.seedInflight < this.seedSlots + SEED_AHEAD - 1
    // Due times compared as sums, as the timer is armed: a difference may round below the spacing.
    const dryDue = dry && (this.digestsKnown === 0 || now >= this.lastSync + DRY_SYNC_SPACING_S)
    if (!this.syncing && (dryDue || seedLow || now >= this.lastSync + this.syncInterval)) this.sync(dry)
    if (this.syncing) return
    this.arm(this.lastSync + (dry ? DRY_SYNC_SPACING_S : this.syncInterval))
  }

  private arm(at: number): void {
    if (at >= this.timerAt && this.timerAt > this.world.queue.now) return
    this.timerAt = at
    this.world.queue.at(at, () => {
      if (this.timerAt !== at) return
      this.timerAt = Infinity
      this.tick()
    })
  }

  private fill(): void {
    const { want } = this.world
    while (this.seedQueue.length > 0 && this.seedInflight < this.seedSlots && this.jobs < want) {
      const piece = this.seedQueue.shift()!
      if (!this.have.has(piece) && !this.inflight.has(piece) && piece < this.digestsKnown) this.launch(piece, SUPERNODE_ID)
    }
    const verifiable = (n: number): boolean => n < this.digestsKnown
    const { availability, links } = this.parents
    for (let launched = true; launched && this.jobs < want; ) {
      launched = false
      const ordered = [...links.values()].sort((a, b) => a.inflight - b.inflight || a.pieceS - b.pieceS)
      for (const link of ordered) {
        if (this.jobs >= want) break
        if (link.inflight >= PER_PARENT) continue
        const piece = pickPiece({ parent: link.have, have: this.have, inflight: this.inflight, verifiable, availability, offset: this.offset })
        if (piece === undefined) continue
        this.launch(piece, link.id)
        launched = true
      }
    }
    const missing = this.have.size - this.have.count
    if (this.jobs < want && missing <= ENDGAME_PIECES && missing === this.inflight.size) {
      for (const [piece, running] of this.inflight) {
        if (this.jobs >= want || running.length >= 2) continue
        const spare = [...links.values()].find((l) => l.inflight < PER_PARENT && l.have.has(piece) && !running.some((t) => t.source === l.id))
        if (spare) this.launch(piece, spare.id)
      }
    }
  }

  private launch(piece: number, from: string): void {
    const { world } = this
    this.jobs++
    const link = from === SUPERNODE_ID ? undefined : this.parents.links.get(from)
    if (link) link.inflight++
    else this.seedInflight++
    const source = from === SUPERNODE_ID ? world.seedHost : world.peer(from)?.state === 'gone' ? undefined : world.peer(from)?.host
    const t = {
      from: source ?? world.seedHost,
      to: this.host,
      remaining: pieceRange(world.layout, piece).length,
      piece,
      source: from,
      receiver: this,
      startedAt: world.queue.now,
    }
    if (!source) {
      // A vanished parent: the connection attempt fails after a short while.
      const dead = t as unknown as PieceTransfer
      this.track(dead)
      world.queue.after(1, () => this.failed(dead, 'unreachable'))
      return
    }
    this.track(world.network.start<PieceTransfer>(t))
    if (link) this.parents.header(link)
  }

  private track(t: PieceTransfer): void {
    const list = this.inflight.get(t.piece)
    if (list) list.push(t)
    else this.inflight.set(t.piece, [t])
  }

  received(t: PieceTransfer): void {
    if (this.state !== 'active') return
    const bytes = pieceRange(this.world.layout, t.piece).length
    this.settle(t)
    const link = this.parents.links.get(t.source)
    if (link) link.pieceS = link.pieceS ? link.pieceS * 0.7 + (this.world.queue.now - t.startedAt) * 0.3 : this.world.queue.now - t.startedAt
    const r = this.bySource.get(t.source) ?? { pieces: 0, bytes: 0 }
    r.pieces++
    r.bytes += bytes
    this.bySource.set(t.source, r)
    this.world.delivered(t, bytes)
    // End-game duplicates of a piece now held are cancelled.
    for (const other of [...(this.inflight.get(t.piece) ?? [])]) {
      this.world.network.abort(other)
      this.settle(other)
    }
    this.have.set(t.piece)
    this.haveChanged = true
    this.log.push(t.piece)
    for (const w of [...this.watchers]) {
      this.watchers.delete(w)
      w.notify()
    }
    if (this.spec.leaveAt !== null && this.have.count >= this.spec.leaveAt * this.have.size && !this.have.complete) return this.world.depart(this)
    if (this.have.complete) return this.finish()
    this.tick()
  }

  failed(t: PieceTransfer, error: PieceResult['error']): void {
    if (this.state !== 'active') return
    this.world.network.abort(t)
    this.settle(t)
    this.failures.push({ from: t.source, error: error ?? 'http' })
    // The supernode hears of it at the next sync.
    if (t.source !== SUPERNODE_ID) this.parents.drop(t.source)
    this.tick()
  }

  /** A transfer is over, whichever way: free its place. */
  private settle(t: PieceTransfer): void {
    const list = this.inflight.get(t.piece)
    const i = list?.indexOf(t) ?? -1
    if (i < 0) return
    list!.splice(i, 1)
    if (list!.length === 0) this.inflight.delete(t.piece)
    this.jobs--
    const link = this.parents.links.get(t.source)
    if (link) link.inflight--
    else if (t.source === SUPERNODE_ID) this.seedInflight--
  }

  private giveUpSlowFetches(): void {
    const limit = this.world.queue.now - this.world.pieceTimeout
    for (const list of [...this.inflight.values()]) {
      for (const t of [...list]) if (t.startedAt <= limit) this.failed(t, 'timeout')
    }
  }

  private finish(): void {
    this.doneAt = this.world.queue.now
    this.state = 'done'
    this.parents.close()
    this.world.completed(this)
    this.haveChanged = true
    // The final report: holdings and bytes by source.
    const body: SimSyncBody = {
      have: Bitset.fromBase64(this.have.size, this.have.toBase64()),
      received: [...this.bySource].map(([from, r]) => ({ from, ...r })),
      failed: this.failures.splice(0),
      digestsFrom: this.digestsKnown,
      seed: 0,
      dry: false,
    }
    this.world.sync(this, body, () => {})
  }

  stop(): void {
    this.state = 'gone'
    for (const list of this.inflight.values()) for (const t of list) this.world.network.abort(t)
    this.inflight.clear()
    this.parents.close()
    this.watchers.clear()
    for (const t of [...this.host.uploads] as PieceTransfer[]) t.receiver.failed(t, 'unreachable')
  }
}

function hashOffset(id: string, modulo: number): number {
  let h = 2166136261
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619)
  return (h >>> 0) % Math.max(1, modulo)
}
