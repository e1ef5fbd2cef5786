import { describe, expect, it } from 'vitest'
import { computePieceSize, createPieceLayout, MAX_PIECE_SIZE, MIN_PIECE_SIZE, pieceRange } from '../../core/protocol/piece-layout.ts'

const MiB = 1024 * 1024

describe('piece layout', () => {
  it('grows the piece size with the content length, within bounds', () => {
    const sizes = [0, 1, MiB, 64 * MiB, 256 * MiB, 1024 * MiB, 10 * 1024 * MiB].map(computePieceSize)
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeGreaterThanOrEqual(sizes[i - 1]!)
    for (const s of sizes) {
      expect(s).toBeGreaterThanOrEqual(MIN_PIECE_SIZE)
      expect(s).toBeLessThanOrEqual(MAX_PIECE_SIZE)
      expect(Math.log2(s) % 1).toBe(0)
    }
    expect(computePieceSize(256 * MiB)).toBe(MiB)
    // A small file still gets about 256 pieces, down to 128 KiB: a swarm passes each on sooner.
    expect(createPieceLayout(32 * MiB)).toMatchObject({ pieceSize: 128 * 1024, pieceCount: 256 })
    expect(computePieceSize(MiB)).toBe(128 * 1024)
  })

  it('keeps the piece count bounded until the maximum piece size is reached', () => {
    for (const len of [MiB, 100 * MiB, 1000 * MiB, 2048 * MiB]) expect(createPieceLayout(len).pieceCount).toBeLessThanOrEqual(256)
    expect(createPieceLayout(10 * 1024 * MiB).pieceSize).toBe(MAX_PIECE_SIZE)
  })

  it('covers every byte exactly once, the last piece shorter', () => {
    const layout = createPieceLayout(10 * MiB + 123)
    let covered = 0
    for (let n = 0; n < layout.pieceCount; n++) {
      const r = pieceRange(layout, n)
      expect(r.start).toBe(covered)
      covered = r.end
    }
    expect(covered).toBe(layout.contentLength)
    expect(pieceRange(layout, layout.pieceCount - 1).length).toBe(123)
    expect(createPieceLayout(0).pieceCount).toBe(0)
  })
})
