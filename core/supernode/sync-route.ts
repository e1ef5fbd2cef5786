import type { Hono } from 'hono'
import type { Histogram } from '../metrics.ts'
import { type ParentDto, parseBody, SYNC_DIGESTS, SyncBody, type SyncResponse } from '../protocol/api-schema.ts'
import { Bitset } from '../protocol/bitset.ts'
import { encodeDigestRun } from '../protocol/digest-run.ts'
import { readJson } from '../protocol/http-json.ts'
import { parentsTag } from '../protocol/parents-tag.ts'
import { SUPERNODE_ROUTES } from '../protocol/routes.ts'
import type { CdnTask } from './cdn/cdn-task.ts'
import type { PeerSecrets } from './peer-secrets.ts'
import type { SyncReport } from './scheduler/swarm.ts'

export interface SyncRouteOptions {
  taskOf(taskId: string): CdnTask
  /** Who a sync speaks for: the peer whose secret it carries. */
  secrets: Pick<PeerSecrets, 'speaker'>
  /** How long a sync from a peer with nothing to fetch waits for a change. */
  longPollMs: number
  stopping(): boolean
  shutdown?: AbortSignal
  /** Long-polls being answered right now (the shutdown waits for them). */
  inflight?: { pulls: number }
  /** Observes each `swarm.sync` (dragonfly_schedule_duration_seconds). */
  scheduleDuration?: Histogram
}

/**
 * `POST /api/v1/tasks/:taskId/sync` — the parents protocol's one call to the
 * supernode: a downloading peer reports (holdings, bytes by source, failed
 * sources) and gets its parents, the digests it lacks and first copies to
 * take from the supernode. Only registered peers (E_UNKNOWN_PEER otherwise),
 * each with its own secret (E_FORBIDDEN otherwise: peer ids are public).
 * A peer that says it has nothing to fetch is answered once something could
 * give it work (a parent holds a piece it lacks, a grant, new digests), or
 * after the long-poll.
 */
export function mountSyncRoute(app: Hono, options: SyncRouteOptions): void {
  app.post(SUPERNODE_ROUTES.sync, async (c) => {
    const task = options.taskOf(c.req.param('taskId'))
    const body = parseBody(SyncBody, await readJson(c))
    const { swarm, layout } = task
    options.secrets.speaker(swarm, body.peerId, c.req.raw)
    let report: SyncReport = {
      have: body.have === undefined ? undefined : Bitset.fromBase64(layout.pieceCount, body.have),
      received: body.received,
      failed: body.failed,
      seed: body.seed,
      dry: body.wait,
    }
    // Digests only for a peer that asks (a download); a heartbeat sync of a seeding peer gets none.
    const from = Math.min(body.digestsFrom ?? layout.pieceCount, layout.pieceCount)
    const deadline = Date.now() + Math.min(options.longPollMs, LONG_POLL_CAP_MS)
    if (options.inflight) options.inflight.pulls++
    try {
      // A held long-poll: nothing is looked at (no first copy granted, no report applied) until its hold is over or
      // the source fetch ended (the last digests are what a peer that keeps pace with it waits for).
      const holdUntil = body.wait && body.holdMs ? Date.now() + body.holdMs : 0
      while (Date.now() < holdUntil && !task.complete && !task.error && !options.stopping() && !c.req.raw.signal.aborted) {
        await swarm.waitForChange(holdUntil - Date.now(), c.req.raw.signal, options.shutdown)
      }
      for (;;) {
        const run = () => swarm.sync(body.peerId, report, Date.now())
        const answer = options.scheduleDuration ? options.scheduleDuration.time(run) : run()
        report = { ...report, have: undefined, received: [], failed: [] }
        const digests: (string | null)[] = []
        let fresh = false
        // The compact form when the peer reads it and the known digests run without a gap.
        const compact = body.digestsAs === 'base64' ? encodeDigestRun(swarm.digests, from, SYNC_DIGESTS) : undefined
        if (compact?.complete) fresh = compact.count > 0
        else {
          for (let n = from; n < Math.min(layout.pieceCount, from + SYNC_DIGESTS); n++) {
            const d = swarm.digests[n]
            digests.push(d ?? null)
            if (d !== undefined) fresh = true
          }
          // Digests not known yet at the end say nothing: while the source fetch runs they were most of an answer.
          while (digests.length > 0 && digests[digests.length - 1] === null) digests.pop()
        }
        const now = Date.now()
        const done = swarm.peer(body.peerId).have.complete
        if (
          !body.wait ||
          done ||
          answer.seed.length > 0 ||
          answer.useful ||
          fresh ||
          task.error ||
          options.stopping() ||
          now >= deadline ||
          c.req.raw.signal.aborted
        ) {
          const parents: ParentDto[] = answer.parents.map((p) => ({ id: p.id, address: p.address, ...(p.location ? { location: p.location } : {}) }))
          const tag = parentsTag(parents)
          return c.json<SyncResponse>({
            ...(body.parentsTag === tag ? {} : { parents }),
            parentsTag: tag,
            digestsFrom: from,
            digests,
            ...(compact?.complete && compact.count > 0 ? { digestsBase64: compact.base64 } : {}),
            seed: answer.seed,
            seedSlots: answer.seedSlots,
            syncAfterMs: answer.syncAfterMs,
            ...(task.digest ? { digest: task.digest } : {}),
            ...(task.gate ? { capability: await task.gate.current(body.peerId) } : {}),
            ...(task.error ? { error: task.error.toJSON() } : {}),
            ...(options.stopping() ? { error: { code: 'E_NOT_READY', message: 'supernode is shutting down; use another supernode' } } : {}),
            holds: true,
          })
        }
        // Woken by a new holder, a new seeded piece or a departure; a spare copy may be due after spareAfterMs.
        await swarm.waitForChange(Math.min(deadline - now, SPARE_CHECK_MS), c.req.raw.signal, options.shutdown)
      }
    } finally {
      if (options.inflight) options.inflight.pulls--
    }
  })
}

/** A waiting sync answers within this, so a peer's progress report is never held for long. */
const LONG_POLL_CAP_MS = 5_000
/** A waiting sync looks again this often (a spare copy comes due with time, not with a change). */
const SPARE_CHECK_MS = 500
