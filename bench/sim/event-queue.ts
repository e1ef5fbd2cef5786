/**
 * Min-heap of timed events. Ties break on insertion order so a run is
 * deterministic for a given PRNG seed.
 */
export interface SimEvent {
  time: number
  seq: number
  run: () => void
}

export class EventQueue {
  private heap: SimEvent[] = []
  private nextSeq = 0
  now = 0

  get size(): number {
    return this.heap.length
  }

  at(time: number, run: () => void): void {
    const event: SimEvent = { time: Math.max(time, this.now), seq: this.nextSeq++, run }
    const heap = this.heap
    let i = heap.length
    heap.push(event)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(event, heap[parent]!)) break
      heap[i] = heap[parent]!
      i = parent
    }
    heap[i] = event
  }

  after(delay: number, run: () => void): void {
    this.at(this.now + delay, run)
  }

  peekTime(): number {
    return this.heap[0]?.time ?? Infinity
  }

  /** Removes the earliest event and advances the clock to it. */
  pop(): SimEvent | undefined {
    const heap = this.heap
    const top = heap[0]
    if (!top) return undefined
    const last = heap.pop()!
    if (heap.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= heap.length) break
        const r = l + 1
        const child = r < heap.length && before(heap[r]!, heap[l]!) ? r : l
        if (!before(heap[child]!, last)) break
        heap[i] = heap[child]!
        i = child
      }
      heap[i] = last
    }
    this.now = top.time
    return top
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq)
}
