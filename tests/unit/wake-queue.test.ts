import { describe, expect, it } from 'vitest'
import { WakeQueue } from '../../core/supernode/scheduler/wake-queue.ts'
import { settle, tracked } from '../helpers/promise-state.ts'

describe('wake queue', () => {
  it('wakes the oldest waiters first, once each, skipping cancelled ones', () => {
    const q = new WakeQueue()
    const woken: number[] = []
    const cancels = Array.from({ length: 6 }, (_, i) => q.add(() => woken.push(i)))
    cancels[1]!()
    expect(q.size).toBe(5)
    q.wake(2)
    expect(woken).toEqual([0, 2])
    cancels[0]!()
    q.wake(Infinity)
    expect(woken).toEqual([0, 2, 3, 4, 5])
    expect(q.size).toBe(0)
    q.wake(1)
    expect(woken).toHaveLength(5)
  })

  it('stays in order over many adds, wakes and cancels', () => {
    const q = new WakeQueue()
    const woken: number[] = []
    let next = 0
    for (let round = 0; round < 3000; round++) {
      const id = next++
      const cancel = q.add(() => woken.push(id))
      if (round % 3 === 0) cancel()
      if (round % 2 === 0) q.wake(1)
    }
    q.wake(Infinity)
    expect(woken).toEqual([...woken].sort((a, b) => a - b))
    expect(woken).toHaveLength(2000)
  })

  it('wait() resolves when woken, on abort, or at its timeout, and not before', async () => {
    const q = new WakeQueue()
    const woken = tracked(q.wait(60_000))
    await settle()
    expect(woken.done).toBe(false)
    q.wake(1)
    await settle()
    expect(woken.done).toBe(true)
    const aborter = new AbortController()
    const aborted = tracked(q.wait(60_000, aborter.signal))
    await settle()
    expect(aborted.done).toBe(false)
    aborter.abort()
    await settle()
    expect(aborted.done).toBe(true)
    expect(q.size).toBe(0)
    await expect(q.wait(5)).resolves.toBeUndefined()
  })

  it('wait() ends on an abort of any of its signals, and leaves no listener on them', async () => {
    const q = new WakeQueue()
    const shutdown = new AbortController()
    const listeners = { added: 0, removed: 0 }
    const add = shutdown.signal.addEventListener.bind(shutdown.signal)
    const remove = shutdown.signal.removeEventListener.bind(shutdown.signal)
    shutdown.signal.addEventListener = (...args: Parameters<typeof add>) => (listeners.added++, add(...args))
    shutdown.signal.removeEventListener = (...args: Parameters<typeof remove>) => (listeners.removed++, remove(...args))
    for (let i = 0; i < 100; i++) {
      const request = new AbortController()
      const waiting = q.wait(60_000, request.signal, shutdown.signal)
      if (i % 2) q.wake(1)
      else request.abort()
      await waiting
    }
    expect(listeners).toEqual({ added: 100, removed: 100 })
    const last = q.wait(60_000, new AbortController().signal, shutdown.signal)
    shutdown.abort()
    await expect(last).resolves.toBeUndefined()
    await expect(q.wait(60_000, shutdown.signal)).resolves.toBeUndefined()
    expect(q.size).toBe(0)
  })
})
