import * as v from 'valibot'
import { type ParentDto, PieceMap } from '../protocol/api-schema.ts'
import { Bitset } from '../protocol/bitset.ts'
import { PIECE_MAP_ROUTE, routePath, serverUrl } from '../protocol/routes.ts'

/** One parent: what it holds (as it last announced), and what this peer is fetching from it. */
export interface ParentLink {
  id: string
  address: string
  have: Bitset
  /** Pieces being fetched from it now. */
  inflight: number
  /** Pieces received from it, and how long each took (ms, smoothed): the faster parents are asked first. */
  received: number
  pieceMs: number
}

export interface ParentSetOptions {
  taskId: string
  pieceCount: number
  /** Headers the plugins add to a request (auth). */
  headers(url: string): Record<string, string>
  /** Called when a parent announced new pieces. */
  onChange(): void
  fetch?: typeof fetch
}

/**
 * A downloading peer's parents and what each holds. For each parent a
 * watcher long-polls its piece map (PIECE_MAP_ROUTE, `?after=<count>`), so a
 * verified piece there is known here within a round trip: the
 * have-announcements of the parents protocol. `availability[n]` counts the
 * parents holding piece n (rarest first picks from it).
 */
export class ParentSet {
  readonly links = new Map<string, ParentLink>()
  readonly availability: Uint16Array
  private readonly watchers = new Map<string, AbortController>()
  private closed = false

  constructor(private readonly o: ParentSetOptions) {
    this.availability = new Uint16Array(o.pieceCount)
  }

  /** Makes the parents exactly `parents`: new ones are watched, the ones no longer listed dropped. */
  update(parents: readonly ParentDto[]): void {
    const listed = new Set<string>()
    for (const p of parents) {
      listed.add(p.id)
      const known = this.links.get(p.id)
      if (known && known.address === p.address) continue
      if (known) this.drop(p.id)
      this.add(p)
    }
    for (const id of [...this.links.keys()]) if (!listed.has(id)) this.drop(id)
  }

  /** A parent's piece map, as its piece answer carried it. */
  heard(id: string, encoded: string): void {
    const link = this.links.get(id)
    if (!link) return
    try {
      this.apply(link, Bitset.fromBase64(this.o.pieceCount, encoded))
    } catch {}
  }

  /** Stops using a parent (it failed this peer); the supernode may list it again later. */
  drop(id: string): void {
    const link = this.links.get(id)
    if (!link) return
    this.links.delete(id)
    this.watchers.get(id)?.abort()
    this.watchers.delete(id)
    for (let n = 0; n < link.have.size; n++) if (link.have.has(n)) this.availability[n]!--
  }

  close(): void {
    this.closed = true
    for (const id of [...this.links.keys()]) this.drop(id)
  }

  private add(p: ParentDto): void {
    const link: ParentLink = { id: p.id, address: p.address, have: new Bitset(this.o.pieceCount), inflight: 0, received: 0, pieceMs: 0 }
    const controller = new AbortController()
    this.links.set(p.id, link)
    this.watchers.set(p.id, controller)
    void this.watch(link, controller.signal)
  }

  private async watch(link: ParentLink, signal: AbortSignal): Promise<void> {
    const path = routePath(PIECE_MAP_ROUTE, { taskId: this.o.taskId })
    let failures = 0
    while (!signal.aborted && !this.closed) {
      // While pieces come from this parent, their answers carry its map: no request needed.
      if (link.inflight > 0) {
        await sleep(MAP_SPACING_MS * 2, signal)
        continue
      }
      const url = `${serverUrl(link.address, path)}?after=${link.have.count}&wait=${MAP_WAIT_MS}`
      // One controller for the watcher's end and the request's timeout (AbortSignal.any left WeakRefs behind on Node 20).
      const request = new AbortController()
      const stop = (): void => request.abort()
      const timer = setTimeout(stop, MAP_WAIT_MS + 10_000)
      signal.addEventListener('abort', stop, { once: true })
      try {
        const response = await (this.o.fetch ?? fetch)(url, { headers: this.o.headers(url), signal: request.signal })
        if (!response.ok) throw new Error(`piece map answered ${response.status}`)
        const map = v.safeParse(PieceMap, await response.json())
        if (!map.success) throw new Error('piece map is malformed')
        failures = 0
        if (signal.aborted) return
        this.apply(link, Bitset.fromBase64(this.o.pieceCount, map.output.have))
      } catch {
        if (signal.aborted) return
        // A parent that does not answer is dropped by the fetches that fail on it; here, only back off.
        failures++
      } finally {
        clearTimeout(timer)
        signal.removeEventListener('abort', stop)
      }
      await sleep(failures ? Math.min(5_000, 250 * 2 ** failures) : MAP_SPACING_MS, signal)
    }
  }

  /** Takes a parent's new map: only pieces added count (a parent never loses a verified piece while serving). */
  private apply(link: ParentLink, have: Bitset): void {
    let added = 0
    for (let n = 0; n < have.size; n++) {
      if (have.has(n) && link.have.set(n)) {
        this.availability[n]!++
        added++
      }
    }
    if (added) this.o.onChange()
  }
}

/** How long a parent holds a piece map request when it has nothing new. */
const MAP_WAIT_MS = 15_000
/**
 * The least time between two map requests to one parent: a parent gaining
 * pieces every few ms is asked at most this often, so announcements come in
 * batches (each request costs both sides ~0.1-0.2 ms of CPU).
 */
const MAP_SPACING_MS = 200

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
