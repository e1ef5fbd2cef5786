import { expect, it } from 'vitest'
import { pickPiece } from '../../core/peer/piece-picker.ts'
import { Bitset } from '../../core/protocol/bitset.ts'

const set = (size: number, pieces: number[]): Bitset => {
  const b = new Bitset(size)
  for (const p of pieces) b.set(p)
  return b
}
const base = { inflight: new Set<number>(), verifiable: () => true, offset: 0 }

it('picks the piece the fewest parents hold; one only this parent holds is taken at once', () => {
  const availability = [3, 2, 3, 1, 2]
  expect(pickPiece({ ...base, parent: set(5, [0, 1, 2, 4]), have: set(5, []), availability })).toBe(1)
  expect(pickPiece({ ...base, parent: set(5, [0, 1, 2, 3, 4]), have: set(5, []), availability })).toBe(3)
})

it('never picks a piece held, in flight, not verifiable yet, or not at this parent', () => {
  const availability = [1, 1, 1, 1, 1]
  const parent = set(5, [0, 1, 2, 3])
  const pick = pickPiece({ parent, have: set(5, [0]), inflight: new Set([1]), verifiable: (n) => n !== 2, availability, offset: 0 })
  expect(pick).toBe(3)
  expect(pickPiece({ parent, have: set(5, [0, 3]), inflight: new Set([1]), verifiable: (n) => n !== 2, availability, offset: 0 })).toBeUndefined()
})

it('peers that see the same rarity start at different offsets', () => {
  const availability = [2, 2, 2, 2]
  const parent = set(4, [0, 1, 2, 3])
  const picks = [0, 1, 2, 3].map((offset) => pickPiece({ ...base, parent, have: set(4, []), availability, offset }))
  expect(picks).toEqual([0, 1, 2, 3])
})
