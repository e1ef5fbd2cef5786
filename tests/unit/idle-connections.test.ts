import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { IDLE_MS, IdleConnections } from '../../runtime/in-place-piece-get.ts'

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

describe("IdleConnections (Bun's and Deno's piece clients)", () => {
  it('closes a connection left unused for IDLE_MS and forgets its host', () => {
    const pool = new IdleConnections<string>()
    const close = vi.fn()
    pool.park('peer:1', 'a', close)
    vi.advanceTimersByTime(IDLE_MS - 1)
    expect(close).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(close).toHaveBeenCalledTimes(1)
    expect(pool.take('peer:1')).toBeUndefined()
    expect(pool.size).toBe(0)
  })

  it('a connection taken in time is not closed later, and the others of its host keep their own clocks', () => {
    const pool = new IdleConnections<string>()
    const closeA = vi.fn()
    const closeB = vi.fn()
    pool.park('peer:1', 'a', closeA)
    vi.advanceTimersByTime(IDLE_MS / 2)
    pool.park('peer:1', 'b', closeB)
    expect(pool.take('peer:1')).toBe('b')
    vi.advanceTimersByTime(IDLE_MS)
    expect(closeB).not.toHaveBeenCalled()
    expect(closeA).toHaveBeenCalledTimes(1)
    expect(pool.size).toBe(0)
  })

  it('keeps at most 16 per host: one more is closed at once', () => {
    const pool = new IdleConnections<number>()
    const closes = Array.from({ length: 17 }, () => vi.fn())
    for (const [i, close] of closes.entries()) pool.park('peer:1', i, close)
    expect(closes[16]).toHaveBeenCalledTimes(1)
    expect(closes.slice(0, 16).every((c) => c.mock.calls.length === 0)).toBe(true)
  })
})
