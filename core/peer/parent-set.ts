import * as v from 'valibot'
import type { PieceHttpGet } from '../contract/piece-get.ts'
import { type ParentDto, PieceMap } from '../protocol/api-schema.ts'
import { Bitset } from '../protocol/bitset.ts'
import { readLines } from '../protocol/lines.ts'
import { PIECE_MAP_ROUTE, routePath, serverUrl } from '../protocol/routes.ts'
import { sleep } from '../sleep.ts'

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
  /**
   * A streaming GET (the runtime's piece GET): with it, each parent's map
   * comes as a stream of changes (`?stream=1`, piece-map-stream.ts), one
   * request per MAP_WAIT_MS instead of one per change.
   */
  stream?: PieceHttpGet
  /**
   * Whether this peer already knows of a piece to fetch from `link`: its map
   * is then not asked for (the piece answers that follow will carry it).
   */
  knowsWork?(link: ParentLink): boolean
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
      // Without a stream: while pieces come from this parent, their answers carry its map; while this peer knows
      // of pieces to take from it, a fresher map would change nothing. No request needed either way (the map
      // long-polls were ~60 % of a get's HTTP requests on 20 Mbit/s links, 8 peers).
      if (!this.o.stream && (link.inflight > 0 || this.o.knowsWork?.(link))) {
        await sleep(MAP_SPACING_MS * 2, signal)
        continue
      }
      const url = `${serverUrl(link.address, path)}?after=${link.have.count}&wait=${MAP_WAIT_MS}${this.o.stream ? '&stream=1' : ''}`
      // One controller for the watcher's end and the request's timeout (AbortSignal.any left WeakRefs behind on Node 20).
      const request = new AbortController()
      const stop = (): void => request.abort()
      const timer = setTimeout(stop, MAP_WAIT_MS + 10_000)
      signal.addEventListener('abort', stop, { once: true })
      const began = performance.now()
      try {
        if (this.o.stream) await this.readStream(link, url, request.signal)
        else this.take(link, await this.poll(url, request.signal))
        failures = 0
      } catch {
        if (signal.aborted) return
        // A parent that does not answer is dropped by the fetches that fail on it; here, only back off.
        failures++
      } finally {
        clearTimeout(timer)
        signal.removeEventListener('abort', stop)
      }
      if (signal.aborted) return
      // A stream that lasted goes straight on; a quick answer (a long-poll, a parent that ends streams at once) waits first.
      const quick = performance.now() - began < STREAM_MIN_MS
      await sleep(failures ? Math.min(5_000, 250 * 2 ** failures) : quick ? MAP_SPACING_MS : 0, signal)
    }
  }

  /** One long-poll: the map once it has more than the child knows. */
  private async poll(url: string, signal: AbortSignal): Promise<unknown> {
    const response = await (this.o.fetch ?? fetch)(url, { headers: this.o.headers(url), signal })
    if (!response.ok) throw new Error(`piece map answered ${response.status}`)
    return response.json()
  }

  /** One stream of map lines (a parent that predates streams answers one map, as a long-poll). */
  private async readStream(link: ParentLink, url: string, signal: AbortSignal): Promise<void> {
    const response = await this.o.stream!(url, { headers: this.o.headers(url), signal })
    if (response.status !== 200) {
      response.cancel()
      throw new Error(`piece map answered ${response.status}`)
    }
    for await (const line of readLines(response.chunks, MAX_MAP_LINE)) {
      if (signal.aborted) return response.cancel()
      this.take(link, JSON.parse(line))
    }
  }

  private take(link: ParentLink, body: unknown): void {
    const map = v.safeParse(PieceMap, body)
    if (!map.success) throw new Error('piece map is malformed')
    this.apply(link, Bitset.fromBase64(this.o.pieceCount, map.output.have))
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

/** A map answer shorter than this was not a stream that ran its course: the next request waits MAP_SPACING_MS. */
const STREAM_MIN_MS = 1_000
/** Longest map line read (the base64 map of MAX_PIECE_COUNT pieces is ~175 KB). */
const MAX_MAP_LINE = 256 * 1024
/** How long a parent holds a piece map request when it has nothing new (a stream: how long it lasts). */
const MAP_WAIT_MS = 15_000
/**
 * The least time between two map requests to one parent: a parent gaining
 * pieces every few ms is asked at most this often, so announcements come in
 * batches (each request costs both sides ~0.1-0.2 ms of CPU).
 */
const MAP_SPACING_MS = 200
