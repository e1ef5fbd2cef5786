import { createPieceLayout, type PieceLayout } from '../../core/protocol/piece-layout.ts'
import { Swarm } from '../../core/supernode/scheduler/swarm.ts'
import { EventQueue } from './event-queue.ts'
import { createHost, type Host, Network } from './network.ts'
import { ParentsPeer, type ParentsWorld } from './parents-peer.ts'
import { type PeerWorld, type PieceTransfer, type SimMember, SimPeer } from './peer.ts'
import { PullMeter } from './pull-meter.ts'
import { drawPeers, gbps, type SimOptions } from './scenario.ts'
import { SimSupernode } from './sim-supernode.ts'
import { SupernodeCore } from './supernode-core.ts'

const MiB = 1024 * 1024
const DIGEST = `sha256:${'0'.repeat(64)}`
/** The real peer's keep-alive pull (core/peer/peer.ts). */
const HEARTBEAT_S = 10

export interface SimResult {
  options: SimOptions
  layout: PieceLayout
  peers: SimMember[]
  /** Seconds of simulated time until the last peer finished. */
  makespan: number
  seedEgress: number
  bytesFromPeers: number
  /** Peer-served bytes by shared location depth: [other region, same region, same zone, same rack]. */
  peerBytesByLocality: number[]
  wireBytes: number
  meter: PullMeter
  /** The supernode's core: requests served, CPU charged, queueing. */
  core: SupernodeCore
  wakeups: number
  /** Peers the supernode expired while they were alive, that registered again. */
  rejoins: number
  events: number
  wallMs: number
}

/** Runs one scenario to the end: every peer done or gone. Throws when the swarm stalls. */
export function simulate(options: SimOptions, progress?: (line: string) => void): SimResult {
  const started = performance.now()
  const contentLength = Math.round(options.sizeMiB * MiB)
  const layout = options.pieceSizeMiB === null ? createPieceLayout(contentLength) : createPieceLayout(contentLength, Math.round(options.pieceSizeMiB * MiB))
  const queue = new EventQueue()
  const swarm = new Swarm('sim', layout, { peerSlots: options.peerSlots, supernodeSlots: options.supernodeSlots })
  const meter = new PullMeter()
  const core = new SupernodeCore(queue, options.cost, options.rttMs / 1000)
  const supernode = new SimSupernode(queue, swarm, core, meter)
  const network = new Network(queue, (t) => (t as PieceTransfer).receiver.received(t as PieceTransfer), options.sharing)
  const seedHost: Host = createHost(gbps(options.supernodeGbps), Infinity)
  const byId = new Map<string, SimMember>()
  const byLocality = [0, 0, 0, 0]
  let bytesFromPeers = 0
  let bytesFromSeed = 0
  const parentsProtocol = options.protocol === 'parents'
  let unfinished = options.peers
  let makespan = 0

  const world: PeerWorld & ParentsWorld = {
    queue,
    network,
    layout,
    want: options.want,
    pieceTimeout: 30,
    seedHost,
    halfRtt: options.rttMs / 2000,
    peer: (id) => byId.get(id),
    parents: (id) => {
      const p = byId.get(id)
      return p instanceof ParentsPeer ? p : undefined
    },
    register(peer, answer) {
      const rejoin = peer.state !== 'pending'
      supernode.register(peer.id, { location: peer.spec.location, slots: options.peerSlots, have: rejoin ? peer.have : undefined }, () => {
        if (!rejoin) heartbeat(peer)
        answer()
      })
    },
    pull: (peer, results, want, wait, answer) => supernode.pull(peer.id, results, want, wait, answer),
    sync: (peer, body, answer) => supernode.sync(peer.id, body, answer),
    delivered(t, bytes) {
      const source = byId.get(t.source)
      if (!source) {
        bytesFromSeed += bytes
        return
      }
      bytesFromPeers += bytes
      byLocality[sharedDepth(source.spec.location, t.receiver.spec.location)]! += bytes
    },
    completed(_peer) {
      makespan = Math.max(makespan, queue.now)
      unfinished--
    },
    depart(peer) {
      if (peer.spec.leaveMode === 'leave') supernode.leave(peer.id)
      supernode.cancel(peer.id)
      peer.stop()
      unfinished--
    },
  }

  // The real peer pulls (syncs) every 10 s from its registration on (done peers too: they seed) until it leaves or dies.
  const heartbeat = (peer: SimMember): void => {
    queue.after(HEARTBEAT_S, () => {
      if (peer.state === 'gone') return
      if (!parentsProtocol) supernode.heartbeat(peer.id)
      // A download that synced within the interval needs no heartbeat beside it. A heartbeat sync says only
      // the peer id: no digests asked for is digestsFrom 0.
      else if (!(peer instanceof ParentsPeer && queue.now - peer.lastSync < HEARTBEAT_S))
        supernode.sync(peer.id, { received: [], failed: [], digestsFrom: 0, seed: 0, dry: false }, () => {}, 'heartbeat')
      heartbeat(peer)
    })
  }

  const peers = drawPeers(options).map((spec) => (parentsProtocol ? new ParentsPeer(spec, world) : new SimPeer(spec, world)))
  for (const peer of peers) {
    byId.set(peer.id, peer)
    queue.at(peer.spec.arrival, () => peer.join())
  }

  if (options.sourceGbps === null) for (let n = 0; n < layout.pieceCount; n++) swarm.seedPiece(n, DIGEST)
  else {
    // Source-bound start: the supernode stores pieces in order at the origin's rate.
    const rate = gbps(options.sourceGbps)
    for (let n = 0; n < layout.pieceCount; n++) {
      const end = Math.min((n + 1) * layout.pieceSize, layout.contentLength)
      queue.at(end / rate, () => swarm.seedPiece(n, DIGEST))
    }
  }

  // The supernode sweeps every 5 s (a timer, not a request: not charged).
  const tick = (): void => {
    swarm.expire(queue.now * 1000)
    queue.after(5, tick)
  }
  queue.at(5, tick)

  const timeLimit = 3600
  let events = 0
  let lastProgress = performance.now()
  while (unfinished > 0) {
    const event = queue.pop()
    if (!event) throw new Error('simulation ran out of events with peers unfinished')
    if (event.time > timeLimit) throw new Error(`swarm stalled: ${unfinished} peers unfinished after ${timeLimit} s simulated`)
    event.run()
    if (++events % 65536 === 0 && progress && performance.now() - lastProgress > 30_000) {
      lastProgress = performance.now()
      progress(
        `t=${queue.now.toFixed(1)} s, ${options.peers - unfinished}/${options.peers} finished, ${meter.calls} ${parentsProtocol ? 'syncs' : 'pulls'}, mean ${meter.meanUs.toFixed(0)} µs, supernode busy ${core.busySeconds.toFixed(1)} s`,
      )
    }
  }

  return {
    options,
    layout,
    peers,
    makespan,
    // The parents protocol's swarm counts only bytes the peers reported; the network counts them all.
    seedEgress: parentsProtocol ? bytesFromSeed : swarm.seed.bytesUploaded,
    bytesFromPeers,
    peerBytesByLocality: byLocality,
    wireBytes: network.bytesDelivered,
    meter,
    core,
    wakeups: supernode.wakeups,
    rejoins: peers.reduce((n, p) => n + p.rejoins, 0),
    events,
    wallMs: performance.now() - started,
  }
}

function sharedDepth(a: string, b: string): number {
  const x = a.split('|')
  const y = b.split('|')
  let n = 0
  while (n < 3 && x[n] === y[n]) n++
  return n
}
