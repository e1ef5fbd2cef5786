import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { SlowReadRest } from '../../runtime/slow-read-rest.ts'

beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] }))
afterEach(() => vi.useRealTimers())

describe('SlowReadRest: a trickling body is read in fewer, larger reads', () => {
  it('rests after a small read until ~128 KiB should wait in the kernel, then resumes', () => {
    const resume = vi.fn()
    const rest = new SlowReadRest(resume)
    expect(rest.after(4096, 1_000_000)).toBe(false) // the first read gives no rate yet
    vi.advanceTimersByTime(10)
    // 3,000 B in 10 ms = 300 B/ms: 128 KiB would take 437 ms, so the rest is the longest allowed, 100 ms.
    expect(rest.after(3000, 1_000_000)).toBe(true)
    vi.advanceTimersByTime(99)
    expect(resume).not.toHaveBeenCalled()
    vi.advanceTimersByTime(1)
    expect(resume).toHaveBeenCalledTimes(1)
  })

  it('does not rest on large reads (a fast link), at the end of a body, or for a rest too short to matter', () => {
    const rest = new SlowReadRest(() => {})
    rest.after(1000, 1_000_000)
    vi.advanceTimersByTime(10)
    expect(rest.after(64 * 1024, 1_000_000)).toBe(false)
    expect(rest.after(1000, 0)).toBe(false)
    // ~6,600 B/ms so far: the last 20 KB are due in ~3 ms, under the 4 ms a timer is worth.
    expect(rest.after(1000, 20_000)).toBe(false)
  })

  it('does not rest on a rate measured over a moment: two small reads in quick succession on a fast link', () => {
    const rest = new SlowReadRest(() => {})
    rest.after(64 * 1024, 1_000_000)
    vi.advanceTimersByTime(0.1)
    expect(rest.after(8 * 1024, 1_000_000)).toBe(false)
    vi.advanceTimersByTime(10)
    // Now measured over 10 ms: 8 KiB + 1 KB in 10 ms is a slow flow.
    expect(rest.after(1000, 1_000_000)).toBe(true)
  })

  it('wake ends a rest at once, and a new body measures its own rate', () => {
    const resume = vi.fn()
    const rest = new SlowReadRest(resume)
    rest.after(1000, 1_000_000)
    vi.advanceTimersByTime(10)
    expect(rest.after(1000, 1_000_000)).toBe(true)
    rest.wake()
    expect(resume).toHaveBeenCalledTimes(1)
    vi.advanceTimersByTime(200)
    expect(resume).toHaveBeenCalledTimes(1)
    rest.reset()
    expect(rest.after(1000, 1_000_000)).toBe(false)
  })
})
