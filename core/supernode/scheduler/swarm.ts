import { createError } from '../../errors.ts'
import { type PieceResult, type ReceivedFrom, type SourceFailure, SUPERNODE_ID } from '../../protocol/api-schema.ts'
import { Bitset } from '../../protocol/bitset.ts'
import type { PieceLayout } from '../../protocol/piece-layout.ts'
import { HolderIndex } from './holder-index.ts'
import { chooseParents, holdsMissing } from './parents.ts'
import { type Assignment, type SourceView, schedule } from './scheduler.ts'
import { SeedGrants } from './seed-grants.ts'
import { DEFAULT_SWARM_OPTIONS, type PeerRegistration, type PeerState, type RemoteMember, type SwarmEvents, type SwarmOptions } from './swarm-types.ts'
import { WakeQueue } from './wake-queue.ts'

/** What a peer of the parents protocol says in one sync (SyncBody, parsed). */
export interface SyncReport {
  /** Every piece it holds, when changed. */
  have?: Bitset
  received: readonly ReceivedFrom[]
  failed: readonly SourceFailure[]
  /** First copies it would take from the supernode now. */
  seed: number
  /** None of its parents holds a piece it needs. */
  dry: boolean
}

export interface SyncAnswer {
  parents: PeerState[]
  /** Pieces granted from the supernode. */
  seed: number[]
  /** First copies the peer should run at once. */
  seedSlots: number
  /** A parent holds a piece the peer lacks, as far as this swarm knows. */
  useful: boolean
}

/** Holders of a piece looked at to tell whether a requester has a usable one. */
const SPARE_HOLDER_SCAN = 16

/**
 * One task's swarm: who holds which piece, who is fetching what from whom,
 * who is isolated. It applies reports, runs the scheduler and wakes
 * long-polling pullers when a change can give them work. Owns no I/O and no
 * timers (but `waitForChange`'s timeout); the caller passes `now`.
 *
 * Scale: the holders of each piece are indexed, so a pull looks at a bounded
 * number of them whatever the swarm size; a change wakes as many waiters as
 * it frees or adds upload slots (oldest first), not all of them.
 */
export class Swarm {
  readonly taskId: string
  readonly layout: PieceLayout
  readonly digests: (string | undefined)[]
  readonly seed: SourceView & { bytesUploaded: number }
  readonly peers = new Map<string, PeerState>()
  readonly holders: Int32Array
  /** In-flight transfers per piece, over all requesters. */
  readonly pending: Int32Array
  /** When the oldest running transfer of each piece started. */
  private readonly pendingAt: Float64Array
  readonly isolatedAddresses: Set<string>
  private readonly options: SwarmOptions
  private readonly events: SwarmEvents
  private readonly index: HolderIndex<PeerState>
  private readonly waiters = new WakeQueue()
  /** Parents protocol: which peer takes which first copy from the supernode. */
  private readonly grants: SeedGrants
  version = 0

  constructor(taskId: string, layout: PieceLayout, options: Partial<SwarmOptions> = {}, isolatedAddresses = new Set<string>(), events: SwarmEvents = {}) {
    this.taskId = taskId
    this.events = events
    this.layout = layout
    this.options = { ...DEFAULT_SWARM_OPTIONS, ...options }
    this.digests = new Array(layout.pieceCount)
    this.holders = new Int32Array(layout.pieceCount)
    this.pending = new Int32Array(layout.pieceCount)
    this.pendingAt = new Float64Array(layout.pieceCount)
    this.index = new HolderIndex(layout.pieceCount)
    this.seed = { id: SUPERNODE_ID, have: new Bitset(layout.pieceCount), uploading: 0, slots: this.options.supernodeSlots, bytesUploaded: 0 }
    this.isolatedAddresses = isolatedAddresses
    this.grants = new SeedGrants(layout.pieceCount, this.options.pieceTimeoutMs)
  }

  /** The supernode stored piece `n` with this digest: it can now be scheduled. */
  seedPiece(n: number, digest: string): void {
    this.digests[n] = digest
    // One requester takes a new piece from the supernode; the others then find it at that peer.
    if (this.seed.have.set(n)) this.wake(2)
  }

  register(id: string, info: PeerRegistration, now: number): PeerState {
    const have = info.have ? Bitset.fromBase64(this.layout.pieceCount, info.have) : new Bitset(this.layout.pieceCount)
    // Only pieces the swarm can vouch for count: a digest must be known for them.
    for (let i = 0; i < have.size; i++) if (have.has(i) && this.digests[i] === undefined) have.clear(i)
    const peer: PeerState = {
      id,
      address: info.address,
      location: info.location,
      have,
      uploading: 0,
      slots: info.slots ?? this.options.peerSlots,
      inflight: new Map(),
      blacklist: new Map(),
      isolated: this.isolatedAddresses.has(info.address),
      unreachableBy: new Set(),
      lastSeen: now,
      joinedAt: now,
      bytesUploaded: 0,
      bytesDownloaded: 0,
      parents: [],
      children: 0,
    }
    this.peers.set(id, peer)
    if (this.counted(peer)) for (let i = 0; i < have.size; i++) if (have.has(i)) this.gained(peer, i)
    this.wake(have.count > 0 && this.counted(peer) ? peer.slots : 0)
    return peer
  }

  peer(id: string): PeerState {
    const peer = this.peers.get(id)
    if (!peer) throw createError('E_UNKNOWN_PEER', `peer ${id} is not registered for task ${this.taskId}`)
    return peer
  }

  /** Applies a requester's results, then schedules its next batch. */
  pull(peerId: string, results: PieceResult[], want: number, now: number): Assignment[] {
    const peer = this.peer(peerId)
    peer.lastSeen = now
    let freed = 0
    for (const result of results) freed += this.applyResult(peer, result, now)
    freed += this.reclaimExpired(peer, now)
    for (const [source, until] of peer.blacklist) if (until <= now) peer.blacklist.delete(source)
    if (results.length > 0 || freed > 0) this.wake(freed)
    const assignments = schedule({
      pieceCount: this.layout.pieceCount,
      holders: this.holders,
      pending: (n) => (this.pending[n]! > 0 && now - this.pendingAt[n]! < this.options.pendingGraceMs ? this.pending[n]! : 0),
      peers: this.livePeers(),
      holdersOf: (n) => this.index.of(n),
      supernode: this.seed,
      seedSpare: !this.options.seedUplinkLimited || this.seed.uploading === 0,
      requester: {
        id: peer.id,
        have: peer.have,
        location: peer.location,
        inflight: new Map([...peer.inflight].map(([piece, f]) => [piece, f.sources])),
        blacklist: peer.blacklist,
      },
      want,
    })
    for (const a of assignments) {
      const source = this.source(a.from)
      if (source) source.uploading++
      if (this.pending[a.piece]!++ === 0) this.pendingAt[a.piece] = now
      const entry = peer.inflight.get(a.piece)
      if (entry) entry.sources.push(a.from)
      else peer.inflight.set(a.piece, { sources: [a.from], deadline: now + this.options.pieceTimeoutMs })
    }
    return assignments
  }

  /**
   * The parents protocol: applies a peer's report (holdings, bytes received,
   * failed sources), grants it first copies from the supernode, and picks its
   * parents. A peer that has had nothing to fetch for `spareAfterMs` gets a
   * spare copy of a piece it lacks, so a stalled holder never stalls it.
   */
  sync(peerId: string, report: SyncReport, now: number): SyncAnswer {
    const peer = this.peer(peerId)
    peer.lastSeen = now
    let gained = 0
    if (report.have) {
      const counted = this.counted(peer)
      for (let i = 0; i < this.layout.pieceCount; i++) {
        if (!report.have.has(i) || this.digests[i] === undefined || !peer.have.set(i)) continue
        gained++
        if (counted) this.gained(peer, i)
      }
    }
    for (const r of report.received) {
      const source = this.source(r.from)
      if (!source || r.bytes === 0) continue
      source.bytesUploaded += r.bytes
      peer.bytesDownloaded += r.bytes
      this.events.pieceDelivered?.(r.from === SUPERNODE_ID ? 'supernode' : 'peer', r.bytes)
    }
    for (const f of report.failed) {
      const source = this.source(f.from)
      if (!source || source === peer) continue
      peer.blacklist.set(f.from, now + this.options.blacklistMs)
      if (source !== this.seed) this.blame(source as PeerState, peer, f.error, now)
    }
    for (const [source, until] of peer.blacklist) if (until <= now) peer.blacklist.delete(source)
    if (gained > 0) this.wake(gained)

    const seedOk = !this.seed.isolated && !peer.blacklist.has(SUPERNODE_ID)
    const room = seedOk ? Math.min(report.seed, this.seed.slots - this.grants.live(now)) : 0
    const seed =
      room > 0
        ? this.grants.grant(
            peer.id,
            room,
            now,
            (n) => this.holders[n]! > 0,
            (n) => this.seed.have.has(n) && !peer.have.has(n),
          )
        : []
    if (!report.dry) peer.dryAt = undefined
    else peer.dryAt ??= now
    // Spare copies: pieces no usable holder can give this peer (holders it found failing, none at all), at once;
    // after spareAfterMs with nothing to fetch, one more of the rarest, so a stalled holder never stalls it.
    if (seedOk && seed.length < report.seed) {
      const late = peer.dryAt !== undefined && now - peer.dryAt >= this.options.spareAfterMs
      const spares = this.sparesFor(peer, report.seed - seed.length, late, now)
      if (spares.length) {
        seed.push(...spares)
        if (late) peer.dryAt = now
      }
    }

    const current = peer.parents.flatMap((id) => this.peers.get(id) ?? [])
    if (peer.have.complete) {
      // A peer that holds everything needs no parents (its heartbeat syncs land here).
      for (const p of current) p.children--
      peer.parents = []
      return { parents: [], seed, seedSlots: 1, useful: false }
    }
    const parents = chooseParents({
      requester: peer,
      current,
      count: this.options.parentCount,
      usable: (p) => this.counted(p),
      dry: report.dry,
      holdersOf: (n) => this.index.of(n),
      holders: this.holders,
      peers: this.livePeers() as Iterable<PeerState>,
    })
    for (const p of current) p.children--
    for (const p of parents) p.children++
    peer.parents = parents.map((p) => p.id)
    return { parents, seed, seedSlots: this.seedSlotsEach(), useful: parents.some((p) => holdsMissing(p.have, peer.have)) }
  }

  /**
   * The supernode's first-copy flows split among the peers downloading here:
   * few flows, so each first copy arrives soon and is passed on while the
   * next comes (with 48 at once, the last 48 pieces would all arrive at the
   * end and still have to be passed on); a lone peer gets them all.
   */
  private seedSlotsEach(): number {
    let downloading = 0
    for (const p of this.peers.values()) if (p.remote === undefined && !p.have.complete) downloading++
    return Math.max(1, Math.floor(this.options.seedFlows / Math.max(1, downloading)))
  }

  /**
   * Spare copies for `peer` from the supernode: pieces it lacks that no
   * holder it may use has and nobody is granted, up to `count`; when `late`,
   * at least one, the rarest, whoever holds it.
   */
  private sparesFor(peer: PeerState, count: number, late: boolean, now: number): number[] {
    const out: number[] = []
    let rarest: number | undefined
    let rarestRank = Infinity
    for (let n = 0; n < this.layout.pieceCount && out.length < count; n++) {
      if (!this.seed.have.has(n) || peer.have.has(n)) continue
      const granted = this.grants.granted(n, now)
      if (!granted && !usableHolder(this.index.of(n), peer)) {
        out.push(n)
        continue
      }
      const rank = this.holders[n]! * 2 + (granted ? 1 : 0)
      if (late && rank < rarestRank) {
        rarest = n
        rarestRank = rank
      }
    }
    if (out.length === 0 && rarest !== undefined) out.push(rarest)
    for (const n of out) this.grants.spare(peer.id, n, now)
    return out
  }

  /** Ms until a source this requester blacklisted may be used again, if any: a long-poll should not wait past it. */
  retryIn(peerId: string, now: number): number | undefined {
    let first: number | undefined
    for (const until of this.peers.get(peerId)?.blacklist.values() ?? []) first = first === undefined ? until : Math.min(first, until)
    return first === undefined ? undefined : Math.max(1, first - now)
  }

  leave(peerId: string): void {
    const peer = this.peers.get(peerId)
    if (!peer) return
    this.drop(peer)
  }

  /**
   * Cluster mode: makes the remote members of this task exactly `members`
   * (added, holdings updated, the ones no longer listed dropped). Only pieces
   * whose digest is known here count.
   */
  syncRemote(members: RemoteMember[], now: number): void {
    const listed = new Set<string>()
    for (const m of members) {
      let peer = this.peers.get(m.id)
      if (peer && peer.remote === undefined) continue
      listed.add(m.id)
      if (peer && peer.address !== m.address) this.drop(peer)
      if (!peer || peer.address !== m.address) {
        peer = this.register(m.id, { address: m.address, location: m.location, slots: m.slots }, now)
        peer.remote = m.via
      }
      peer.lastSeen = now
      let added = false
      for (let i = 0; i < m.have.size; i++) {
        // Only pieces whose digest is known here can be scheduled.
        if (!m.have.has(i) || this.digests[i] === undefined || !peer.have.set(i)) continue
        added = true
        if (this.counted(peer)) this.gained(peer, i)
      }
      if (added && this.counted(peer)) this.wake(peer.slots)
    }
    for (const peer of this.peers.values()) if (peer.remote !== undefined && !listed.has(peer.id)) this.drop(peer)
  }

  /** Removes peers that stopped pulling; returns their ids. */
  expire(now: number): string[] {
    const gone: string[] = []
    for (const peer of this.peers.values()) {
      if (peer.remote === undefined && now - peer.lastSeen > this.options.peerTtlMs) {
        this.drop(peer)
        gone.push(peer.id)
      }
    }
    return gone
  }

  /**
   * Resolves when a change wakes this waiter or after `timeoutMs`. Each
   * change wakes the oldest waiters, as many as upload slots it freed or
   * added (at least one); `changed()` wakes all. An abort of any of `signals` ends the wait.
   */
  waitForChange(timeoutMs: number, ...signals: (AbortSignal | undefined)[]): Promise<void> {
    return this.waiters.wait(timeoutMs, ...signals)
  }

  /** `waitForChange` without a timer, for callers that keep their own clock (the simulator). */
  onWake(wake: () => void): () => void {
    return this.waiters.add(wake)
  }

  /** Wakes every waiter (task complete or failed, shutdown). */
  changed(): void {
    this.wake(Infinity)
  }

  private wake(count: number): void {
    this.version++
    this.waiters.wake(Math.max(1, count))
  }

  /** The peers holding `piece` that count as sources (live, not isolated). */
  holdersOf(piece: number): readonly PeerState[] {
    return this.index.of(piece)
  }

  source(id: string): (SourceView & { bytesUploaded: number }) | PeerState | undefined {
    return id === SUPERNODE_ID ? this.seed : this.peers.get(id)
  }

  /** Whether a peer's pieces count as available (not isolated, reachable). */
  private counted(p: PeerState): boolean {
    return !p.isolated && p.unreachableBy.size < this.options.unreachableLimit
  }

  private *livePeers(): Iterable<SourceView> {
    for (const p of this.peers.values()) if (this.counted(p)) yield p
  }

  /** Returns how many upload slots it made useful: the one released, plus the requester's free ones when it gained a piece. */
  private applyResult(requester: PeerState, result: PieceResult, now: number): number {
    const { piece } = result
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.layout.pieceCount) return 0
    const entry = requester.inflight.get(piece)
    if (!entry?.sources.includes(result.from)) return 0
    entry.sources.splice(entry.sources.indexOf(result.from), 1)
    if (entry.sources.length === 0) requester.inflight.delete(piece)
    const source = this.release(piece, result.from)
    if (result.ok) {
      const bytes = result.bytes ?? 0
      if (source) source.bytesUploaded += bytes
      requester.bytesDownloaded += bytes
      this.events.pieceDelivered?.(result.from === SUPERNODE_ID ? 'supernode' : 'peer', bytes)
      if (requester.have.set(piece) && this.counted(requester)) {
        this.gained(requester, piece)
        return 1 + Math.max(0, requester.slots - requester.uploading)
      }
    } else {
      requester.blacklist.set(result.from, now + this.options.blacklistMs)
      if (source && source !== this.seed) this.blame(source as PeerState, requester, result.error, now)
    }
    return 1
  }

  private gained(peer: PeerState, piece: number): void {
    if (this.holders[piece]!++ === 0) this.grants.fulfilled(piece)
    this.index.add(piece, peer)
  }

  private blame(source: PeerState, reporter: PeerState, error: PieceResult['error'], now: number): void {
    if (error === 'digest') this.isolate(source)
    else if (error === 'unreachable' && now - source.lastSeen > this.options.silentPeerMs) {
      // Unreachable and silent: it is gone; free what it held and what it was fetching.
      this.drop(source)
    } else if (error === 'unreachable') {
      const counted = this.counted(source)
      source.unreachableBy.add(reporter.id)
      if (counted && !this.counted(source)) this.forgetHoldings(source)
    }
  }

  /** A peer that served bytes with a wrong digest serves no one again, under any peer id. */
  isolate(peer: PeerState): void {
    if (peer.isolated) return
    this.isolatedAddresses.add(peer.address)
    if (this.counted(peer)) this.forgetHoldings(peer)
    peer.isolated = true
    this.events.peerIsolated?.(peer)
    this.changed()
  }

  private forgetHoldings(peer: PeerState): void {
    for (let i = 0; i < peer.have.size; i++) if (peer.have.has(i) && --this.holders[i]! === 0) this.grants.lost(i)
    this.index.remove(peer)
  }

  /** Frees the transfers that ran past their deadline; returns how many. */
  private reclaimExpired(peer: PeerState, now: number): number {
    let freed = 0
    for (const [piece, entry] of peer.inflight) {
      if (entry.deadline > now) continue
      for (const from of entry.sources) {
        this.release(piece, from)
        peer.blacklist.set(from, now + this.options.blacklistMs)
        freed++
      }
      peer.inflight.delete(piece)
    }
    return freed
  }

  /** One transfer of `piece` from `from` is over: free the upload slot and the pending count. */
  private release(piece: number, from: string) {
    this.pending[piece] = Math.max(0, this.pending[piece]! - 1)
    const source = this.source(from)
    if (source) source.uploading = Math.max(0, source.uploading - 1)
    return source
  }

  private drop(peer: PeerState): void {
    if (this.counted(peer)) this.forgetHoldings(peer)
    let freed = 0
    for (const [piece, entry] of peer.inflight) {
      for (const from of entry.sources) this.release(piece, from)
      freed += entry.sources.length
    }
    this.peers.delete(peer.id)
    this.grants.dropPeer(peer.id)
    for (const id of peer.parents) {
      const parent = this.peers.get(id)
      if (parent) parent.children--
    }
    this.wake(freed)
  }
}

/** Whether one of the first SPARE_HOLDER_SCAN holders is one `peer` may use. */
function usableHolder(holders: readonly PeerState[], peer: PeerState): boolean {
  for (let i = 0; i < holders.length && i < SPARE_HOLDER_SCAN; i++) if (holders[i] !== peer && !peer.blacklist.has(holders[i]!.id)) return true
  return false
}
