import { type PieceResult, type ReceivedFrom, type SourceFailure, SUPERNODE_ID } from '../../protocol/api-schema.ts'
import type { Bitset } from '../../protocol/bitset.ts'
import { chooseParents, holdsMissing, PEER_SAMPLE } from './parents.ts'
import { type Assignment, schedule } from './scheduler.ts'
import { SwarmState } from './swarm-state.ts'
import type { PeerState } from './swarm-types.ts'

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
  /** When the peer should report next, unless it needs something sooner. */
  syncAfterMs: number
  /** A parent holds a piece the peer lacks, as far as this swarm knows. */
  useful: boolean
}

/** How long a count of the downloading peers (for `seedSlots`, `syncAfterMs`) is used while the swarm's size stays. */
const SLOTS_RECOUNT_MS = 200

/** The periodic sync's interval: never shorter (the peers' own default), never longer (well within a peer's time to live). */
export const SYNC_AFTER_MIN_MS = 2_000
export const SYNC_AFTER_MAX_MS = 20_000

/** Holders of a piece looked at to tell whether a requester has a usable one. */
const SPARE_HOLDER_SCAN = 16

/**
 * A task's swarm as the supernode's two peer protocols see it (the state is
 * SwarmState's, swarm-state.ts): `sync`, the parents protocol the peers
 * speak, and `pull`, the per-piece assignments of the first protocol, kept
 * for the simulator and the supernode bench.
 */
export class Swarm extends SwarmState {
  private downloadingCount?: { size: number; at: number; count: number }

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
    for (const r of report.received) if (r.bytes > 0) this.delivered(peer, r.from, r.bytes)
    for (const f of report.failed) {
      const source = this.source(f.from)
      if (!source || source === peer) continue
      peer.blacklist.set(f.from, now + this.options.blacklistMs)
      if (source !== this.seed) this.blame(source as PeerState, peer, f.error, now, f.piece)
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
      return { parents: [], seed, seedSlots: 1, syncAfterMs: SYNC_AFTER_MAX_MS, useful: false }
    }
    const parents = chooseParents({
      requester: peer,
      current,
      count: this.options.parentCount,
      usable: (p) => this.counted(p),
      dry: report.dry,
      holdersOf: (n) => this.index.of(n),
      holders: this.holders,
      peers: this.peerSample(PEER_SAMPLE),
    })
    for (const p of current) p.children--
    for (const p of parents) p.children++
    peer.parents = parents.map((p) => p.id)
    const downloading = this.downloadingNow(now)
    return {
      parents,
      seed,
      seedSlots: Math.max(1, Math.round(this.options.seedFlows / downloading)),
      syncAfterMs: Math.min(SYNC_AFTER_MAX_MS, Math.max(SYNC_AFTER_MIN_MS, Math.round((downloading / this.options.syncsPerSecond) * 1000))),
      useful: parents.some((p) => holdsMissing(p.have, peer.have)),
    }
  }

  /**
   * The peers downloading here (at least 1). The supernode's first-copy flows are split among them,
   * rounded (at least one each): few flows, so each first copy arrives soon and is passed on while the
   * next comes (with 16 at once for 8 peers, the last 16 pieces all arrived at the end and still had to
   * be passed on); a lone peer gets them all. Their periodic syncs share `syncsPerSecond`.
   */
  protected downloadingNow(now: number): number {
    // Counting is O(peers): at 10,000 peers it was most of a sync's cost. Counted again when the swarm's size
    // changes or SLOTS_RECOUNT_MS passed; a completion in between is seen up to that much late.
    const cached = this.downloadingCount
    if (cached && cached.size === this.peers.size && now - cached.at < SLOTS_RECOUNT_MS && now >= cached.at) return cached.count
    const count = Math.max(1, this.downloading())
    this.downloadingCount = { size: this.peers.size, at: now, count }
    return count
  }

  /**
   * Spare copies for `peer` from the supernode: pieces it lacks that no
   * holder it may use has and nobody is granted, up to `count`; when `late`,
   * at least one, the rarest, whoever holds it.
   */
  protected sparesFor(peer: PeerState, count: number, late: boolean, now: number): number[] {
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

  /** Returns how many upload slots it made useful: the one released, plus the requester's free ones when it gained a piece. */
  protected applyResult(requester: PeerState, result: PieceResult, now: number): number {
    const { piece } = result
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.layout.pieceCount) return 0
    const entry = requester.inflight.get(piece)
    if (!entry?.sources.includes(result.from)) return 0
    entry.sources.splice(entry.sources.indexOf(result.from), 1)
    if (entry.sources.length === 0) requester.inflight.delete(piece)
    const source = this.release(piece, result.from)
    if (result.ok) {
      this.delivered(requester, result.from, result.bytes ?? 0)
      if (requester.have.set(piece) && this.counted(requester)) {
        this.gained(requester, piece)
        return 1 + Math.max(0, requester.slots - requester.uploading)
      }
    } else {
      requester.blacklist.set(result.from, now + this.options.blacklistMs)
      if (source && source !== this.seed) this.blame(source as PeerState, requester, result.error, now, piece)
    }
    return 1
  }

  /** Frees the transfers that ran past their deadline; returns how many. */
  protected reclaimExpired(peer: PeerState, now: number): number {
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
}

/** Whether one of the first SPARE_HOLDER_SCAN holders is one `peer` may use. */
function usableHolder(holders: readonly PeerState[], peer: PeerState): boolean {
  for (let i = 0; i < holders.length && i < SPARE_HOLDER_SCAN; i++) if (holders[i] !== peer && !peer.blacklist.has(holders[i]!.id)) return true
  return false
}
