import { type PieceResult, type PullResponse, type RegisterResponse, SUPERNODE_ID } from '../../core/protocol/api-schema.ts'
import { peerSecretHeader } from '../../core/protocol/peer-secret.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'

/** What one request cost, by kind; a pull is `work` when it handed out pieces, `empty` when it came back with none, `report` the last one (results only). */
export interface Timing {
  kind: 'register' | 'work' | 'empty' | 'report' | 'leave'
  ms: number
}

export interface VirtualPeerOptions {
  supernode: string
  url: string
  index: number
  want: number
  slots?: number
  timings: Timing[]
}

export interface VirtualPeerOutcome {
  pieces: number
  pieceCount: number
  assignments: number
  fromPeers: number
}

/**
 * A peer that speaks the real peer API (register, pull with results and
 * long-poll, leave) but moves no piece bytes: every assignment is reported
 * as delivered on the next pull, as the real pull loop does once a fetch
 * settles. Its piece-server address is never contacted.
 */
export async function runVirtualPeer(o: VirtualPeerOptions): Promise<VirtualPeerOutcome> {
  // The registration's secret, sent with every request that speaks for this peer.
  let secret: string | undefined
  const post = async <T>(path: string, body: unknown, kind: Timing['kind'] | null): Promise<T> => {
    const started = performance.now()
    const res = await fetch(`${o.supernode}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...peerSecretHeader(secret) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`)
    const answer = JSON.parse(text) as T & { assignments?: unknown[] }
    const ms = performance.now() - started
    o.timings.push({ kind: kind ?? ((answer.assignments?.length ?? 0) > 0 ? 'work' : 'empty'), ms })
    return answer
  }

  const i = o.index
  const location = `r${i % 2}|z${i % 3}|k${i % 8}`
  const reg = await post<RegisterResponse>(
    SUPERNODE_ROUTES.register,
    { url: o.url, peer: { address: `http://127.0.0.1:${10_000 + (i % 50_000)}`, location, ...(o.slots ? { slots: o.slots } : {}) } },
    'register',
  )
  secret = reg.peerSecret
  const have = new Uint8Array(reg.pieceCount)
  let pieces = 0
  let assignments = 0
  let fromPeers = 0
  let results: PieceResult[] = []
  while (pieces < reg.pieceCount) {
    const answer = await post<PullResponse>(
      routePath(SUPERNODE_ROUTES.pull, { taskId: reg.taskId }),
      { peerId: reg.peerId, results, want: o.want, wait: true },
      null,
    )
    if (answer.error) throw new Error(`pull: ${answer.error.code} ${answer.error.message}`)
    results = answer.assignments.map((a) => {
      assignments++
      if (a.from !== SUPERNODE_ID) fromPeers++
      const fresh = have[a.piece] === 0
      have[a.piece] = 1
      if (fresh) pieces++
      // An end-game duplicate of a piece already held is reported with no bytes, as the real peer does.
      return { piece: a.piece, from: a.from, ok: true, bytes: fresh ? a.size : 0 }
    })
  }
  await post(routePath(SUPERNODE_ROUTES.pull, { taskId: reg.taskId }), { peerId: reg.peerId, results, want: 0, wait: false }, 'report')
  await post(routePath(SUPERNODE_ROUTES.leave, { taskId: reg.taskId }), { peerId: reg.peerId }, 'leave')
  return { pieces, pieceCount: reg.pieceCount, assignments, fromPeers }
}
