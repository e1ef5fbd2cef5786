import type { Bitset } from '../../protocol/bitset.ts'

/* What the swarm tracks per peer and what it is told; the Swarm class is in swarm.ts. */

export interface PeerRegistration {
  /** Base URL of the peer's piece server, e.g. `http://10.0.0.5:41234`. */
  address: string
  location?: string
  /** The peer's host name as it reports it (shown beside its address; never used to reach it). */
  hostname?: string
  slots?: number
  /** Pieces the peer already holds (resume), base64 bitset. */
  have?: string
}

export interface PeerState {
  id: string
  address: string
  location?: string
  hostname?: string
  have: Bitset
  uploading: number
  slots: number
  inflight: Map<number, { sources: string[]; deadline: number }>
  /** Sources this peer reported as failing → when it may be given them again (ms, the swarm's clock). */
  blacklist: Map<string, number>
  isolated: boolean
  /** Distinct requesters that could not reach this peer. */
  unreachableBy: Set<string>
  lastSeen: number
  joinedAt: number
  bytesUploaded: number
  bytesDownloaded: number
  /** Parents protocol: the peers this one fetches from (ids), and how many have this one as a parent. */
  parents: string[]
  children: number
  /** Parents protocol: since when this peer has had nothing to fetch (it said so in its syncs). */
  dryAt?: number
  /** Cluster mode: the id of the supernode this peer registered with, when not this one (it never pulls here). */
  remote?: string
}

/** A swarm member another supernode of the cluster registered (a peer, or that supernode itself). */
export interface RemoteMember {
  id: string
  address: string
  location?: string
  slots: number
  have: Bitset
  /** The supernode it came from. */
  via: string
}

export interface SwarmOptions {
  peerSlots: number
  supernodeSlots: number
  /** How long an assignment may run before its slot is reclaimed. */
  pieceTimeoutMs: number
  /** A peer that has not pulled for this long is gone (peers heartbeat every 10 s once their download is done). */
  peerTtlMs: number
  /** Distinct requesters that must fail to reach a peer before it stops serving. */
  unreachableLimit: number
  /** How long others wait for a piece already on its way to a peer before taking it from the supernode. */
  pendingGraceMs: number
  /** A peer reported unreachable that has not pulled for this long is taken for dead. */
  silentPeerMs: number
  /**
   * How long a requester is not sent again to a source that failed it (timeout,
   * unreachable, bad answer). Not forever: the supernode is the last source of
   * every piece, and a lone peer whose one piece from it timed out would
   * otherwise never be given that piece again. Corrupting peers are isolated
   * for good regardless.
   */
  blacklistMs: number
  /**
   * The supernode's uplink is rate-limited (`supernode --total-limit`): it is
   * then kept for first copies, and serves pieces that peers already hold
   * only while it uploads nothing else.
   */
  seedUplinkLimited?: boolean
  /** Parents protocol: how many parents a downloading peer gets. */
  parentCount: number
  /**
   * Parents protocol: first copies the supernode serves at once, split among the peers downloading
   * (rounded, at least one each). 10 read best in the simulator from 2 to 12 peers on equal links
   * (bench/README.md, "Fewer first copies at once"); 16 gave 8 peers two each and a longer tail.
   */
  seedFlows: number
  /** Parents protocol: a peer with nothing to fetch for this long may take a spare copy from the supernode. */
  spareAfterMs: number
  /**
   * Parents protocol: the periodic syncs a task's downloading peers send
   * together per second, at most. Each answer tells its peer when to sync
   * next (`syncAfterMs`): every 2 s while the swarm is small, longer as it
   * grows (up to 30 s), so 10,000 peers do not ask the supernode's one core
   * for 5,000 syncs a second. Syncs a peer needs (no work left, first copies
   * running low) do not wait for it.
   */
  syncsPerSecond: number
}

/** What a swarm tells the outside (metrics, logs); every hook is optional. */
/** The defaults of `SwarmOptions` (the supernode's config sets some of them). */
export const DEFAULT_SWARM_OPTIONS: SwarmOptions = {
  peerSlots: 6,
  supernodeSlots: 48,
  pieceTimeoutMs: 30_000,
  peerTtlMs: 25_000,
  unreachableLimit: 2,
  pendingGraceMs: 3_000,
  silentPeerMs: 5_000,
  blacklistMs: 5_000,
  parentCount: 8,
  seedFlows: 10,
  spareAfterMs: 2_000,
  syncsPerSecond: 500,
}

export interface SwarmEvents {
  /** A requester reported a verified piece: who served it and how many bytes. */
  pieceDelivered?(from: 'supernode' | 'peer', bytes: number): void
  peerIsolated?(peer: PeerState): void
  /**
   * A requester says `peer` served bad bytes (of `piece`, when it said which).
   * With this listener the swarm does not isolate on the report: the listener
   * checks and calls `isolate`. Without it (unit tests, the simulator) the report isolates.
   */
  digestDisputed?(peer: PeerState, piece: number | undefined): void
}
