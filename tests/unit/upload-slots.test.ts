import { describe, expect, it } from 'vitest'
import { readLines } from '../../core/protocol/lines.ts'
import { UploadSlots } from '../../core/transfer/upload-slots.ts'
import { settle, tracked } from '../helpers/promise-state.ts'

describe('upload slots', () => {
  it('lets `slots` through at once and the rest in arrival order, one per release', async () => {
    const slots = new UploadSlots(2)
    const a = await slots.acquire()
    const b = await slots.acquire()
    const order: string[] = []
    const c = slots.acquire().then((release) => (order.push('c'), release))
    const d = slots.acquire().then((release) => (order.push('d'), release))
    await settle()
    expect(order).toEqual([])
    expect(slots.waiting).toBe(2)
    a()
    a() // a second release of the same slot frees nothing more
    await settle()
    expect(order).toEqual(['c'])
    b()
    await settle()
    expect(order).toEqual(['c', 'd'])
    ;(await c)()
    ;(await d)()
    expect(slots.busy).toBe(0)
  })

  it('a waiter whose request goes away leaves the queue and takes no slot', async () => {
    const slots = new UploadSlots(1)
    const first = await slots.acquire()
    const gone = new AbortController()
    const waiting = slots.acquire(gone.signal)
    const next = tracked(slots.acquire())
    gone.abort(new Error('client left'))
    await expect(waiting).rejects.toThrow('client left')
    expect(slots.waiting).toBe(1)
    first()
    await settle()
    expect(next.done).toBe(true)
    expect(slots.busy).toBe(1)
  })
})

describe('readLines', () => {
  const chunks = async function* (...parts: string[]) {
    for (const p of parts) yield new TextEncoder().encode(p)
  }
  it('splits lines across chunks, skips blank ones, keeps a last line without newline', async () => {
    const out: string[] = []
    for await (const line of readLines(chunks('{"a":', '1}\n\n{"b"', ':2}\n{"c":3}'), 100)) out.push(line)
    expect(out).toEqual(['{"a":1}', '{"b":2}', '{"c":3}'])
  })
  it('refuses a line longer than the bound instead of buffering it', async () => {
    const read = async () => {
      for await (const _ of readLines(chunks('x'.repeat(60), 'y'.repeat(60)), 100)) {
      }
    }
    await expect(read()).rejects.toThrow('longer than 100')
  })
})
