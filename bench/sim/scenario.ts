import type { Sharing } from './network.ts'
import { DEFAULT_COST_MODEL, type SupernodeCostModel } from './supernode-core.ts'

/** What to simulate. Bandwidths in Gbit/s, sizes in MiB, times in seconds. */
export interface SimOptions {
  /** What the peers speak: `parents` (sync, pieces picked by the peers) or `pull` (the first protocol: every piece assigned by the supernode). */
  protocol: 'parents' | 'pull'
  peers: number
  sizeMiB: number
  /** Piece size; null = the supernode's dynamic piece size for `sizeMiB` (about 256 pieces). */
  pieceSizeMiB: number | null
  /** PRNG seed: same seed, same run. */
  seed: number
  /** Fraction of peers that leave mid-download (half gracefully, half by going silent). */
  churn: number
  /** Fraction of peers that join after the start, spread over `lateWindow`. */
  late: number
  lateWindow: number
  /** Pieces a peer fetches at once (the real peer's `concurrency`). */
  want: number
  peerSlots: number
  supernodeSlots: number
  supernodeGbps: number
  /** Rate at which the supernode reads the origin; null = cache already warm. */
  sourceGbps: number | null
  /** Host classes: share of peers, upload and download Gbit/s. */
  mix: HostClass[]
  /** How a link's capacity is shared among its transfers (network.ts). */
  sharing: Sharing
  /** Locality tree: regions x zones x racks. */
  regions: number
  zones: number
  racks: number
  /** Supernode CPU per request, charged on its one core; FREE_COST_MODEL with `rttMs` 0 = pulls take no time. */
  cost: SupernodeCostModel
  /** Network round trip of each request to the supernode, ms. */
  rttMs: number
}

export interface HostClass {
  share: number
  upGbps: number
  downGbps: number
}

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  protocol: 'parents',
  peers: 200,
  sizeMiB: 64,
  pieceSizeMiB: null,
  seed: 1,
  churn: 0,
  late: 0,
  lateWindow: 10,
  want: 8,
  peerSlots: 6,
  supernodeSlots: 48,
  supernodeGbps: 10,
  sourceGbps: 2,
  sharing: 'per-end',
  mix: [
    { share: 0.7, upGbps: 1, downGbps: 1 },
    { share: 0.3, upGbps: 0.1, downGbps: 0.1 },
  ],
  regions: 2,
  zones: 3,
  racks: 8,
  cost: DEFAULT_COST_MODEL,
  rttMs: 1,
}

export interface PeerSpec {
  id: string
  /** Bytes per second. */
  up: number
  down: number
  location: string
  arrival: number
  /** Leaves once it holds this fraction of the pieces; null = stays. */
  leaveAt: number | null
  leaveMode: 'leave' | 'silent'
}

export const gbps = (g: number): number => (g * 1e9) / 8

/** Draws the population; every random choice of a run comes from `seed`. */
export function drawPeers(options: SimOptions): PeerSpec[] {
  const random = createRandom(options.seed)
  const totalShare = options.mix.reduce((s, c) => s + c.share, 0)
  const specs: PeerSpec[] = []
  for (let i = 0; i < options.peers; i++) {
    let pick = random() * totalShare
    const cls = options.mix.find((c) => (pick -= c.share) < 0) ?? options.mix[options.mix.length - 1]!
    const location = `r${Math.floor(random() * options.regions)}|z${Math.floor(random() * options.zones)}|k${Math.floor(random() * options.racks)}`
    const arrival = random() < options.late ? random() * options.lateWindow : 0
    const churned = random() < options.churn
    const leaveAt = churned ? 0.1 + 0.8 * random() : null
    specs.push({ id: `p${i}`, up: gbps(cls.upGbps), down: gbps(cls.downGbps), location, arrival, leaveAt, leaveMode: random() < 0.5 ? 'leave' : 'silent' })
  }
  return specs
}

/** mulberry32: small, fast, good enough to draw a population. */
export function createRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
