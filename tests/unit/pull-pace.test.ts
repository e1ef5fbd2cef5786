import { describe, expect, it } from 'vitest'
import { PULL_BATCH, PullPace } from '../../core/peer/pull-pace.ts'

describe('PullPace', () => {
  it('holds no extra assignments until both times are known, and none when pieces take far longer than pulls', () => {
    const pace = new PullPace(4)
    expect(pace.lookahead()).toBe(0)
    pace.pullTook(3)
    expect(pace.lookahead()).toBe(0)
    pace.pieceTook(2000)
    expect(pace.lookahead()).toBe(0)
  })

  it('holds about as many as finish during one pull, at most the concurrency', () => {
    const pace = new PullPace(4)
    pace.pullTook(10)
    pace.pieceTook(35)
    expect(pace.lookahead()).toBe(1)
    for (let i = 0; i < 30; i++) pace.pullTook(20)
    expect(pace.lookahead()).toBe(2)
    for (let i = 0; i < 30; i++) pace.pullTook(500)
    expect(pace.lookahead()).toBe(4)
  })

  it('reports one result per pull on paced links, and batches them where there is lookahead', () => {
    const paced = new PullPace(8)
    paced.pullTook(5)
    paced.pieceTook(3000)
    expect(paced.batch()).toBe(1)
    expect(paced.want(3, 0)).toBe(5)

    const fast = new PullPace(8)
    fast.pullTook(10)
    fast.pieceTook(35)
    expect(fast.lookahead()).toBe(2)
    expect(fast.batch()).toBe(PULL_BATCH)
    // 8 slots + 2 lookahead + the rest of a batch, less what is running and queued.
    expect(fast.want(8, 0)).toBe(2 + PULL_BATCH - 1)
    expect(fast.want(8, 20)).toBe(0)
  })
})
