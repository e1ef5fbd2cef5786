import { createError } from '../../errors.ts'
import { type PieceResult, SUPERNODE_ID } from '../../protocol/api-schema.ts'
import { Bitset } from '../../protocol/bitset.ts'
import type { PieceLayout } from '../../protocol/piece-layout.ts'
import { HolderIndex } from './holder-index.ts'
import { PeerRing } from './peer-ring.ts'
import type { SourceView } from './scheduler.ts'
import { SeedGrants } from './seed-grants.ts'
import { DEFAULT_SWARM_OPTIONS, type PeerRegistration, type PeerState, type RemoteMember, type SwarmEvents, type SwarmOptions } from './swarm-types.ts'
import { WakeQueue } from './wake-queue.ts'

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
export class SwarmState {
  readonly taskId: string
  readonly layout: PieceLayout
  readonly digests: (string | undefined)[]
  readonly seed: SourceView & { bytesUploaded: number }
  readonly peers = new Map<string, PeerState>()
  /** The same peers, sampled a window at a time by parent choice. */
  protected readonly ring = new PeerRing<PeerState>()
  readonly holders: Int32Array
  /** In-flight transfers per piece, over all requesters. */
  readonly pending: Int32Array
  /** When the oldest running transfer of each piece started. */
  protected readonly pendingAt: Float64Array
  readonly isolatedAddresses: Set<string>
  /** Bytes peers reported receiving from other peers in this swarm (kept when those peers leave). */
  bytesFromPeers = 0
  protected readonly options: SwarmOptions
  protected readonly events: SwarmEvents
  protected readonly index: HolderIndex<PeerState>
  protected readonly waiters = new WakeQueue()
  /** Parents protocol: which peer takes which first copy from the supernode. */
  protected readonly grants: SeedGrants
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
      hostname: info.hostname,
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
    const replaced = this.peers.get(id)
    if (replaced) this.ring.remove(replaced)
    this.peers.set(id, peer)
    this.ring.add(peer)
    if (this.counted(peer)) for (let i = 0; i < have.size; i++) if (have.has(i)) this.gained(peer, i)
    this.wake(have.count > 0 && this.counted(peer) ? peer.slots : 0)
    return peer
  }

  peer(id: string): PeerState {
    const peer = this.peers.get(id)
    if (!peer) throw createError('E_UNKNOWN_PEER', `peer ${id} is not registered for task ${this.taskId}`)
    return peer
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

  protected wake(count: number): void {
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

  /** Counts `bytes` a peer received from `from` (the task's and the source's totals, and the metrics). */
  protected delivered(receiver: PeerState, from: string, bytes: number): void {
    // A parent may have left before its child reported: the bytes still count, with no source to credit.
    const source = this.source(from)
    if (source) source.bytesUploaded += bytes
    receiver.bytesDownloaded += bytes
    if (from !== SUPERNODE_ID) this.bytesFromPeers += bytes
    this.events.pieceDelivered?.(from === SUPERNODE_ID ? 'supernode' : 'peer', bytes)
  }

  /**
   * Peers registered here that do not hold every piece yet (other supernodes'
   * peers are theirs to count); with `isolated: false`, not the isolated ones
   * either: people see those apart, and a fake one may never finish.
   */
  downloading(options: { isolated?: boolean } = {}): number {
    let n = 0
    for (const p of this.peers.values()) if (p.remote === undefined && !p.have.complete && (options.isolated !== false || !p.isolated)) n++
    return n
  }

  /** Whether a peer's pieces count as available (not isolated, reachable). */
  protected counted(p: PeerState): boolean {
    return !p.isolated && p.unreachableBy.size < this.options.unreachableLimit
  }

  protected *livePeers(): Iterable<SourceView> {
    for (const p of this.peers.values()) if (this.counted(p)) yield p
  }

  /** Up to `limit` peers, live or not, from where the previous sample stopped. */
  protected peerSample(limit: number): Iterable<PeerState> {
    return this.ring.window(limit)
  }

  protected gained(peer: PeerState, piece: number): void {
    if (this.holders[piece]!++ === 0) this.grants.fulfilled(piece)
    this.index.add(piece, peer)
  }

  protected blame(source: PeerState, reporter: PeerState, error: PieceResult['error'], now: number, piece?: number): void {
    // A report is a claim: with a listener, the bytes are checked before anyone is isolated (digest-dispute.ts).
    if (error === 'digest') this.events.digestDisputed ? this.events.digestDisputed(source, piece) : this.isolate(source)
    else if (error === 'unreachable' && now - source.lastSeen > this.options.silentPeerMs) {
      // Unreachable and silent: it is gone; free what it held and what it was fetching.
      this.drop(source)
    } else if (error === 'unreachable') {
      const counted = this.counted(source)
      source.unreachableBy.add(reporter.id)
      if (counted && !this.counted(source)) this.forgetHoldings(source)
    }
  }

  /** A peer that served bytes with a wrong digest serves no one again in this task, under any peer id. */
  isolate(peer: PeerState): void {
    if (peer.isolated) return
    this.isolatedAddresses.add(peer.address)
    if (this.counted(peer)) this.forgetHoldings(peer)
    peer.isolated = true
    this.events.peerIsolated?.(peer)
    this.changed()
  }

  protected forgetHoldings(peer: PeerState): void {
    for (let i = 0; i < peer.have.size; i++) if (peer.have.has(i) && --this.holders[i]! === 0) this.grants.lost(i)
    this.index.remove(peer)
  }

  /** One transfer of `piece` from `from` is over: free the upload slot and the pending count. */
  protected release(piece: number, from: string) {
    this.pending[piece] = Math.max(0, this.pending[piece]! - 1)
    const source = this.source(from)
    if (source) source.uploading = Math.max(0, source.uploading - 1)
    return source
  }

  protected drop(peer: PeerState): void {
    if (this.counted(peer)) this.forgetHoldings(peer)
    let freed = 0
    for (const [piece, entry] of peer.inflight) {
      for (const from of entry.sources) this.release(piece, from)
      freed += entry.sources.length
    }
    this.peers.delete(peer.id)
    this.ring.remove(peer)
    this.grants.dropPeer(peer.id)
    for (const id of peer.parents) {
      const parent = this.peers.get(id)
      if (parent) parent.children--
    }
    this.wake(freed)
  }
}
