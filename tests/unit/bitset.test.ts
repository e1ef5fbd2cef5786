import { describe, expect, it } from 'vitest'
import { Bitset } from '../../core/protocol/bitset.ts'

const of = (size: number, members: number[]): Bitset => {
  const b = new Bitset(size)
  for (const n of members) b.set(n)
  return b
}

describe('Bitset.hasAnyNotIn (does a parent hold a piece the child lacks)', () => {
  it('is true only for a member the other set lacks, in any byte, the last partial one included', () => {
    expect(of(20, [3, 19]).hasAnyNotIn(of(20, [3, 19]))).toBe(false)
    expect(of(20, [3, 19]).hasAnyNotIn(of(20, [3]))).toBe(true)
    expect(of(20, [9]).hasAnyNotIn(of(20, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]))).toBe(true)
    expect(of(20, []).hasAnyNotIn(of(20, []))).toBe(false)
    expect(of(20, [5]).hasAnyNotIn(of(20, []))).toBe(true)
  })

  it("counts members past the other set's size as lacking there", () => {
    expect(of(20, [18]).hasAnyNotIn(of(10, [1]))).toBe(true)
    expect(of(10, [1]).hasAnyNotIn(of(20, [1, 18]))).toBe(false)
  })
})
