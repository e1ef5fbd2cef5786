import type { PieceResult } from '../../core/protocol/api-schema.ts'
import { createPieceLayout, type PieceLayout } from '../../core/protocol/piece-layout.ts'
import type { Assignment } from '../../core/supernode/scheduler/scheduler.ts'
import { Swarm } from '../../core/supernode/scheduler/swarm.ts'
import { EventQueue } from './event-queue.ts'
import { createHost, type Host, Network } from './network.ts'
import { type PeerWorld, type PieceTransfer, SimPeer } from './peer.ts'
import { PullMeter } from './pull-meter.ts'
import { drawPeers, gbps, type SimOptions } from './scenario.ts'

const MiB = 1024 * 1024
const DIGEST = `sha256:${'0'.repeat(64)}`
/** The supernode's long-poll timeout (supernode-app: longPollMs). */
const LONG_POLL_S = 15

export interface SimResult {
  options: SimOptions
  layout: PieceLayout
  peers: SimPeer[]
  /** Seconds of simulated time until the last peer finished. */
  makespan: number
  seedEgress: number
  bytesFromPeers: number
  /** Peer-served bytes by shared location depth: [other region, same region, same zone, same rack]. */
  peerBytesByLocality: number[]
  wireBytes: number
  meter: PullMeter
  wakeups: number
  events: number
  wallMs: number
}

/** Runs one scenario to the end: every peer done or gone. Throws when the swarm stalls. */
export function simulate(options: SimOptions, progress?: (line: string) => void): SimResult {
  const started = performance.now()
  const layout = createPieceLayout(Math.round(options.sizeMiB * MiB))
  const queue = new EventQueue()
  const swarm = new Swarm('sim', layout, { peerSlots: options.peerSlots, supernodeSlots: options.supernodeSlots })
  const meter = new PullMeter()
  const network = new Network(queue, (t) => (t as PieceTransfer).receiver.received(t as PieceTransfer))
  const seedHost: Host = createHost(gbps(options.supernodeGbps), Infinity)
  const byId = new Map<string, SimPeer>()
  /** Long-polling peers and how to cancel their swarm waiter. */
  const waiting = new Map<SimPeer, () => void>()
  let wakeups = 0
  const unwait = (peer: SimPeer): void => {
    waiting.get(peer)?.()
    waiting.delete(peer)
  }
  const byLocality = [0, 0, 0, 0]
  let bytesFromPeers = 0
  let unfinished = options.peers
  let makespan = 0

  const world: PeerWorld = {
    queue,
    network,
    layout,
    want: options.want,
    pieceTimeout: 30,
    seedHost,
    peer: (id) => byId.get(id),
    // The supernode's long-poll: woken by the swarm (the pull runs as its own event, as the HTTP answer would), or after 15 s.
    wait(peer) {
      if (waiting.has(peer)) return
      const cancel = swarm.onWake(() => {
        waiting.delete(peer)
        wakeups++
        queue.after(0, () => peer.pull())
      })
      waiting.set(peer, cancel)
      queue.after(LONG_POLL_S, () => {
        if (waiting.get(peer) !== cancel) return
        unwait(peer)
        peer.pull()
      })
    },
    unwait,
    pull(peer: SimPeer, results: PieceResult[], want: number): Assignment[] {
      unwait(peer)
      const t0 = performance.now()
      const assignments = swarm.pull(peer.id, results, want, queue.now * 1000)
      if (want > 0) meter.record(performance.now() - t0, assignments.length)
      return assignments
    },
    delivered(t, bytes) {
      const source = byId.get(t.source)
      if (!source) return
      bytesFromPeers += bytes
      byLocality[sharedDepth(source.spec.location, t.receiver.spec.location)]! += bytes
    },
    completed(_peer) {
      makespan = Math.max(makespan, queue.now)
      unfinished--
    },
    depart(peer) {
      if (peer.spec.leaveMode === 'leave') swarm.leave(peer.id)
      peer.stop()
      unfinished--
    },
  }

  const peers = drawPeers(options).map((spec) => new SimPeer(spec, world))
  for (const peer of peers) {
    byId.set(peer.id, peer)
    queue.at(peer.spec.arrival, () => {
      peer.state = 'active'
      swarm.register(peer.id, { address: `sim://${peer.id}`, location: peer.spec.location, slots: options.peerSlots }, queue.now * 1000)
      peer.pull()
    })
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

  // The real peers heartbeat every 10 s and the supernode sweeps every 5 s.
  const tick = (): void => {
    if (queue.now % 10 === 0) for (const p of peers) if (p.state === 'active' || p.state === 'done') swarm.pull(p.id, [], 0, queue.now * 1000)
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
      progress(`t=${queue.now.toFixed(1)} s, ${options.peers - unfinished}/${options.peers} finished, ${meter.calls} pulls, mean ${meter.meanUs.toFixed(0)} µs`)
    }
  }

  return {
    options,
    layout,
    peers,
    makespan,
    seedEgress: swarm.seed.bytesUploaded,
    bytesFromPeers,
    peerBytesByLocality: byLocality,
    wireBytes: network.bytesDelivered,
    meter,
    wakeups,
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
