import { describe, expect, it } from 'vitest'
import { ProblemLog } from '../../core/cluster/problem-log.ts'

describe('ProblemLog: one line per condition and window, with a count', () => {
  it('writes the first occurrence at once, counts the repeats, and writes the count when the window closes', async () => {
    const lines: string[] = []
    const log = new ProblemLog((message) => lines.push(message), 200)
    for (let i = 0; i < 1_000; i++) log.report('store', `cluster store does not answer (${i})`)
    log.report('bad-data', 'invalid digest')
    expect(lines).toEqual(['cluster store does not answer (0)', 'invalid digest'])
    await expect.poll(() => lines.length, { timeout: 2_000 }).toBe(3)
    expect(lines[2]).toBe('cluster store does not answer (999) (999 more like it in the last 200 ms)')
    // A condition with no repeats adds no line when its window closes; a new window starts with a line again.
    log.report('store', 'again')
    expect(lines.at(-1)).toBe('again')
  })

  it('flush writes the pending counts now', () => {
    const lines: string[] = []
    const log = new ProblemLog((message) => lines.push(message), 60_000)
    log.report('lease', 'lost a lease')
    log.report('lease', 'lost another lease')
    log.flush()
    expect(lines).toEqual(['lost a lease', 'lost another lease (1 more like it in the last 60 s)'])
  })
})
