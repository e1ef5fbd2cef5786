import { describe, expect, it } from 'vitest'
import { HolderIndex } from '../../core/supernode/scheduler/holder-index.ts'

describe('holder index', () => {
  it("lists each piece's holders once, and forgets a holder in every list", () => {
    const index = new HolderIndex<{ id: string }>(3)
    const [a, b, c] = [{ id: 'a' }, { id: 'b' }, { id: 'c' }]
    index.add(0, a)
    index.add(0, b)
    index.add(0, c)
    index.add(0, a)
    index.add(2, a)
    index.add(7, a)
    expect(index.of(0)).toEqual([a, b, c])
    expect(index.of(1)).toEqual([])
    index.remove(a)
    expect(new Set(index.of(0))).toEqual(new Set([b, c]))
    expect(index.of(2)).toEqual([])
    expect(index.has(0, a)).toBe(false)
    // The holder swapped into the freed place can itself be removed exactly.
    index.remove(c)
    expect(index.of(0)).toEqual([b])
    expect(index.size).toBe(1)
  })
})
