import { Hono } from 'hono'
import { Announcement, type ClusterStore, parseShared } from '../contract/cluster-store.ts'
import { SUPERNODE_ROUTES } from '../protocol/routes.ts'
import { localityScore } from '../supernode/scheduler/scheduler.ts'

/** This supernode as the cluster sees it. */
export interface ClusterSelf {
  /** 16 hex chars, derived from `url` so a restarted supernode gets its leases back. */
  id: string
  /** Base URL peers and other supernodes reach it at. */
  url: string
  location?: string
}

/** How long the peers a departed supernode listed are still tried as holders. */
const DEPARTED_MS = 600_000

/**
 * The config service: every supernode announces itself (address, location,
 * load) with a TTL, and reads everyone's announcements back; any supernode
 * can then tell a peer which supernodes to use.
 */
export class ClusterDirectory {
  /** Live supernodes, this one included, as last read. */
  live: Announcement[] = []
  /** Announcements that failed to parse at the last read (a log line each, not a crash). */
  rejected: string[] = []
  private readonly gone = new Map<string, number>()

  constructor(
    private readonly store: ClusterStore,
    private readonly self: ClusterSelf,
    private readonly ttlMs: number,
  ) {}

  /** Announces this supernode with its current load, then reads the cluster's list. */
  async refresh(load: number): Promise<void> {
    const mine: Announcement = { id: this.self.id, url: this.self.url, load, ...(this.self.location ? { location: this.self.location } : {}) }
    await this.store.announce(this.self.id, JSON.stringify(mine), this.ttlMs)
    const live: Announcement[] = []
    const rejected: string[] = []
    for (const raw of await this.store.announcements()) {
      try {
        live.push(parseShared(Announcement, raw, 'supernode announcement'))
      } catch (error) {
        rejected.push((error as Error).message)
      }
    }
    if (!live.some((a) => a.id === this.self.id)) live.push(mine)
    const now = Date.now()
    for (const a of this.live) if (!live.some((b) => b.id === a.id)) this.gone.set(a.id, now)
    for (const [id, at] of this.gone) if (live.some((b) => b.id === id) || now - at > DEPARTED_MS) this.gone.delete(id)
    this.live = live
    this.rejected = rejected
  }

  /** Ids of supernodes that were live and are no longer, for DEPARTED_MS. */
  departed(): string[] {
    return [...this.gone.keys()]
  }

  /** Ids of the other live supernodes. */
  others(): string[] {
    return this.live.filter((a) => a.id !== this.self.id).map((a) => a.id)
  }

  withdraw(): Promise<void> {
    return this.store.withdraw(this.self.id)
  }
}

/**
 * Which supernodes a peer at `location` should use, best first: the longest
 * shared `region|zone|rack` prefix, then the least loaded; ties keep a stable
 * order per location so equal peers spread instead of piling on one.
 */
export function pickSupernodes(live: readonly Announcement[], location: string | undefined, limit = 8): Announcement[] {
  const ranked = live.map((a) => ({ a, near: localityScore(location, a.location), tie: hash(`${location ?? ''}/${a.id}`) }))
  ranked.sort((x, y) => y.near - x.near || x.a.load - y.a.load || x.tie - y.tie)
  return ranked.slice(0, limit).map((r) => r.a)
}

/** `GET SUPERNODE_ROUTES.supernodes?location=` → `{supernodes: [{url, location, load}]}`, best first. */
export function createDirectoryRoutes(directory: () => ClusterDirectory): Hono {
  const app = new Hono()
  app.get(SUPERNODE_ROUTES.supernodes, (c) => {
    const location = c.req.query('location')?.slice(0, 256)
    const supernodes = pickSupernodes(directory().live, location).map((a) => ({ url: a.url, location: a.location ?? null, load: a.load }))
    return c.json({ supernodes })
  })
  return app
}

function hash(text: string): number {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}
