import { Bitset } from '../../core/protocol/bitset.ts'
import type { EventQueue } from './event-queue.ts'

/** A parent as its children see it: the pieces it verified, in order, and the map requests it holds. */
export interface MapSource {
  readonly state: 'pending' | 'active' | 'done' | 'gone'
  readonly log: readonly number[]
  readonly watchers: Set<MapWatch>
}

/** A child's map request held at a parent: answered when the parent gains a piece. */
export interface MapWatch {
  notify(): void
}

export interface ParentLink extends MapWatch {
  id: string
  parent: MapSource
  /** What the child knows the parent holds. */
  have: Bitset
  /** How much of the parent's log the child has heard. */
  known: number
  inflight: number
  /** Smoothed seconds per piece from it: faster parents are asked first. */
  pieceS: number
  live: boolean
}

/** core/peer/parent-set.ts: MAP_SPACING_MS between a parent's answer and the next request. */
const MAP_SPACING_S = 0.2

/**
 * A simulated child's parents and what each holds, as core/peer/parent-set.ts
 * learns it: per parent a long-polled piece map (the request reaches the
 * parent half a round trip after it is sent, is held there until the parent
 * gains a piece, and its answer takes half a round trip back; the next
 * request leaves MAP_SPACING_S later, or later still while pieces come from
 * that parent, whose answers carry the map instead). Peer to peer: nothing
 * here costs the supernode time.
 */
export class ParentLinks {
  readonly links = new Map<string, ParentLink>()
  readonly availability: Uint16Array

  constructor(
    private readonly queue: EventQueue,
    private readonly pieceCount: number,
    private readonly halfRtt: number,
    private readonly onChange: () => void,
    /** The child already knows of a piece to take from this parent: no map request (core/peer/parent-set.ts, knowsWork). */
    private readonly knowsWork: (link: ParentLink) => boolean = () => false,
  ) {
    this.availability = new Uint16Array(pieceCount)
  }

  /** Makes the parents exactly `ids` (the supernode's answer). */
  update(ids: readonly string[], lookup: (id: string) => MapSource | undefined): void {
    const listed = new Set(ids)
    for (const id of [...this.links.keys()]) if (!listed.has(id)) this.drop(id)
    for (const id of ids) {
      const parent = lookup(id)
      if (this.links.has(id) || !parent) continue
      const link: ParentLink = {
        id,
        parent,
        have: new Bitset(this.pieceCount),
        known: 0,
        inflight: 0,
        pieceS: 0,
        live: true,
        notify: () => this.answer(link),
      }
      this.links.set(id, link)
      this.send(link)
    }
  }

  drop(id: string): void {
    const link = this.links.get(id)
    if (!link) return
    this.links.delete(id)
    link.live = false
    link.parent.watchers.delete(link)
    for (let n = 0; n < this.pieceCount; n++) if (link.have.has(n)) this.availability[n]!--
  }

  close(): void {
    for (const id of [...this.links.keys()]) this.drop(id)
  }

  /** A piece answer's header: the parent's map when the request reached it (it left a round trip ago). */
  header(link: ParentLink): void {
    this.queue.after(this.halfRtt, () => {
      const upTo = link.parent.log.length
      this.queue.after(this.halfRtt, () => this.apply(link, upTo))
    })
  }

  private send(link: ParentLink): void {
    this.queue.after(this.halfRtt, () => {
      if (!link.live) return
      // A gone parent does not answer; the fetches that fail on it drop it.
      if (link.parent.state === 'gone') return
      if (link.parent.log.length > link.known) this.answer(link)
      else link.parent.watchers.add(link)
    })
  }

  private answer(link: ParentLink): void {
    const upTo = link.parent.log.length
    this.queue.after(this.halfRtt, () => {
      this.apply(link, upTo)
      this.next(link, MAP_SPACING_S)
    })
  }

  private next(link: ParentLink, delay: number): void {
    this.queue.after(delay, () => {
      if (!link.live) return
      if (link.inflight > 0 || this.knowsWork(link)) return this.next(link, MAP_SPACING_S * 2)
      this.send(link)
    })
  }

  private apply(link: ParentLink, upTo: number): void {
    if (!link.live || upTo <= link.known) return
    const { log } = link.parent
    let added = 0
    for (let k = link.known; k < upTo; k++) {
      const n = log[k]!
      if (link.have.set(n)) {
        this.availability[n]!++
        added++
      }
    }
    link.known = upTo
    if (added) this.onChange()
  }
}
