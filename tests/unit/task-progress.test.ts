import { describe, expect, it } from 'vitest'
import { TaskProgress } from '../../core/peer/task-progress.ts'

const A = 'a'.repeat(64)
const B = 'b'.repeat(64)

describe('task progress wake-ups', () => {
  it('wakes every watcher of a task at its next change, and only those', async () => {
    const progress = new TaskProgress()
    const woken: string[] = []
    void progress.watch(A).changed.then(() => woken.push('a1'))
    void progress.watch(A).changed.then(() => woken.push('a2'))
    void progress.watch(B).changed.then(() => woken.push('b'))
    progress.notify(A)
    await Promise.resolve()
    expect(woken.sort()).toEqual(['a1', 'a2'])
    expect([progress.waiting(A), progress.waiting(B)]).toEqual([0, 1])
  })

  it('a cancelled watch is dropped: nothing of it stays for a task that never changes again', async () => {
    const progress = new TaskProgress()
    const controller = new AbortController()
    for (let i = 0; i < 1000; i++) progress.watch(A, controller.signal).cancel()
    expect(progress.waiting(A)).toBe(0)
    const kept = progress.watch(A, controller.signal)
    expect(progress.waiting(A)).toBe(1)
    kept.cancel()
    kept.cancel()
    await kept.changed
    expect(progress.waiting(A)).toBe(0)
  })

  it('an abort wakes the watch and drops it; a signal aborted already wakes at once', async () => {
    const progress = new TaskProgress()
    const controller = new AbortController()
    const watch = progress.watch(A, controller.signal)
    controller.abort()
    await watch.changed
    expect(progress.waiting(A)).toBe(0)
    await progress.watch(A, controller.signal).changed
    expect(progress.waiting(A)).toBe(0)
  })
})
