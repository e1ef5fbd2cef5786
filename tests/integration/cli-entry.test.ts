import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { killAll, startSupernode, tempDir } from '../helpers/cli.ts'

afterAll(killAll)

const threadsOf = (pid: number): number => readdirSync(`/proc/${pid}/task`).length

it('the CLI entry gives libuv 16 pool threads (direct writes wait on them), unless the user set UV_THREADPOOL_SIZE', async () => {
  // An empty value counts as unset, as it does for libuv.
  const defaulted = await startSupernode(await tempDir(), [], { UV_THREADPOOL_SIZE: '' })
  const userSet = await startSupernode(await tempDir(), [], { UV_THREADPOOL_SIZE: '2' })
  try {
    // Both pools have started (the supernode opened its home). Node's own threads vary a little from process
    // to process: a margin, well clear of a 4-thread default.
    expect(threadsOf(defaulted.run.child.pid!) - threadsOf(userSet.run.child.pid!)).toBeGreaterThanOrEqual(10)
  } finally {
    await Promise.all([defaulted.stop(), userSet.stop()])
  }
})

it('the entry the CLI had before (bin/dragonfly.mjs) still runs it', () => {
  const run = spawnSync(process.execPath, [resolve(import.meta.dirname, '../../bin/dragonfly.mjs'), '--version'], { encoding: 'utf8' })
  expect(run.status).toBe(0)
  expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
})
