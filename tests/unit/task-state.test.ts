import { describe, expect, it } from 'vitest'
import { createError } from '../../core/errors.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { downloadsOf, taskState } from '../../core/supernode/cdn/cdn-task.ts'
import { Swarm } from '../../core/supernode/scheduler/swarm.ts'

describe('a task as people see it (status, dashboard, dragonfly_tasks)', () => {
  const swarm = new Swarm('t'.repeat(64), createPieceLayout(4 * 262144, 262144))
  for (let i = 0; i < 4; i++) swarm.seedPiece(i, `d${i}`)

  it('runs while a peer still downloads, though the cache is whole; completes when the last one holds everything', () => {
    expect(taskState({ complete: true, swarm })).toBe('complete') // control: nobody downloading
    expect(taskState({ complete: false, swarm })).toBe('running')
    swarm.register('p', { address: 'http://p' }, 0)
    expect(downloadsOf({ swarm })).toBe(1)
    expect(taskState({ complete: true, swarm })).toBe('running')
    swarm.sync('p', { have: Bitset.full(4), received: [], failed: [], seed: 0, dry: false }, 1)
    expect(taskState({ complete: true, swarm })).toBe('complete')
    expect(taskState({ complete: true, swarm, error: createError('E_SOURCE_STATUS', 'gone') })).toBe('failed')
  })
})
