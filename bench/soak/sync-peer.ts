import { type ParentDto, type ReceivedFrom, type RegisterResponse, SUPERNODE_ID, type SyncBody, type SyncResponse } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { peerSecretHeader } from '../../core/protocol/peer-secret.ts'
import { PIECE_MAP_ROUTE, routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'

/** Requests of each kind the virtual peers sent, counted (a million syncs are not kept one by one). */
export interface SyncCounts {
  registers: number
  syncs: number
  pieceMaps: number
  leaves: number
}

export interface SyncPeerOptions {
  supernode: string
  url: string
  index: number
  /** What every virtual peer of the run holds, by peer id: a parent "serves" what it holds here. */
  holdings: Map<string, Bitset>
  /** Heartbeat syncs (a seeding peer's: no holdings, no digests) sent once the download is complete. */
  heartbeats: number
  counts: SyncCounts
}

/** Pieces taken from one parent per sync (the real peer asks up to 3 per parent). */
const PER_PARENT = 3
/** First copies a virtual peer asks the supernode for per sync. */
const SEED_ASK = 4

/**
 * A peer that speaks the parents protocol over HTTP (register, sync with
 * holdings, received bytes and long-polls, piece-map requests, leave) but
 * moves no piece bytes: a first copy granted by a sync, or a piece one of its
 * parents holds (as the bench's shared `holdings` say), counts as received at
 * once and is reported on the next sync.
 */
export async function runSyncPeer(o: SyncPeerOptions): Promise<void> {
  // The registration's secret, sent with every request that speaks for this peer.
  let secret: string | undefined
  const call = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${o.supernode}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      ...(body === undefined ? {} : { headers: { 'content-type': 'application/json', ...peerSecretHeader(secret) }, body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`)
    return JSON.parse(text) as T
  }
  const i = o.index
  const reg = await call<RegisterResponse>(SUPERNODE_ROUTES.register, {
    url: o.url,
    peer: { address: `http://127.0.0.1:${10_000 + (i % 50_000)}`, location: `r${i % 2}|z${i % 3}|k${i % 8}` },
  })
  o.counts.registers++
  secret = reg.peerSecret
  const syncPath = routePath(SUPERNODE_ROUTES.sync, { taskId: reg.taskId })
  const have = new Bitset(reg.pieceCount)
  o.holdings.set(reg.peerId, have)
  const received = new Map<string, ReceivedFrom>()
  const receive = (from: string, piece: number): boolean => {
    if (!have.set(piece)) return false
    const r = received.get(from) ?? { from, pieces: 0, bytes: 0 }
    r.pieces++
    r.bytes += reg.pieceSize
    received.set(from, r)
    return true
  }
  let lastAnswer = performance.now()
  let syncs = 0
  const sync = async (body: Omit<SyncBody, 'peerId' | 'received' | 'failed'>): Promise<SyncResponse> => {
    const sent = performance.now()
    const answer = await call<SyncResponse>(syncPath, { peerId: reg.peerId, received: [...received.values()], ...body }).catch((error: unknown) => {
      // How long the peer had been quiet tells an expiry (peerTtlMs) from a lost registration.
      const quiet = `${(sent - lastAnswer).toFixed(0)} ms after the last answer, failed after ${(performance.now() - sent).toFixed(0)} ms`
      throw new Error(`${error instanceof Error ? error.message : String(error)} (sync #${syncs + 1}, sent ${quiet})`)
    })
    lastAnswer = performance.now()
    syncs++
    received.clear()
    o.counts.syncs++
    if (answer.error) throw new Error(`sync: ${answer.error.code} ${answer.error.message}`)
    return answer
  }
  try {
    let digestsFrom = 0
    let changed = false
    let dry = false
    // As a real peer: the parent list is sent again only when it changed (SyncBody.parentsTag).
    let parents: ParentDto[] = []
    let tag: string | undefined
    while (!have.complete) {
      const answer = await sync({
        ...(changed ? { have: have.toBase64() } : {}),
        ...(digestsFrom < reg.pieceCount ? { digestsFrom } : {}),
        seed: SEED_ASK,
        wait: dry,
        ...(tag ? { parentsTag: tag } : {}),
      })
      if (answer.parents) {
        parents = answer.parents
        tag = answer.parentsTag
      }
      const known = answer.digests.indexOf(null)
      digestsFrom = answer.digestsFrom + (known === -1 ? answer.digests.length : known)
      for (const piece of answer.seed) receive(SUPERNODE_ID, piece)
      for (const parent of parents) {
        const theirs = o.holdings.get(parent.id)
        for (let n = 0, taken = 0; theirs && n < reg.pieceCount && taken < PER_PARENT; n++) {
          if (theirs.has(n) && receive(parent.id, n)) taken++
        }
      }
      // Nothing new from the grants or the parents: the next sync waits for a change (long-poll), as a dry peer's does.
      changed = received.size > 0
      dry = !changed
    }
    await sync({ have: have.toBase64(), seed: 0, wait: false })
    for (let h = 0; h < o.heartbeats; h++) await sync({ seed: 0, wait: false })
    // The piece map the supernode serves as every peer's first parent: one answered at once, one held until its wait ends.
    const map = routePath(PIECE_MAP_ROUTE, { taskId: reg.taskId })
    await call(`${map}?after=0`)
    await call(`${map}?after=${reg.pieceCount}&wait=20`)
    o.counts.pieceMaps += 2
  } finally {
    o.holdings.delete(reg.peerId)
    await call(routePath(SUPERNODE_ROUTES.leave, { taskId: reg.taskId }), { peerId: reg.peerId })
    o.counts.leaves++
  }
}
