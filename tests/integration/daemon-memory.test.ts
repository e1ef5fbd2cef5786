import { describe, expect, it } from 'vitest'
import { ROUTES } from '../../bench/soak/load.ts'
import { runSoak } from '../../bench/soak/run.ts'

const MiB = 2 ** 20
const COUNT = 20_000
/** What may legitimately differ between two readings of a daemon that keeps nothing per download (code, caches warming up). */
const BOUND = 2 * MiB

// The daemon is measured from outside: it runs with node's --heapsnapshot-signal, and a snapshot (taken with the
// load paused) starts with a full GC, so its total is the live heap. No route, no flag, no code in the daemon.
describe('daemon memory under a stream of cached downloads', () => {
  it(`its live heap after ${COUNT} cached downloads is within ${BOUND / MiB} MiB of its heap after ${COUNT / 10}`, async () => {
    const r = await runSoak({ count: COUNT, concurrency: 32, files: 100, sizeKiB: 16, uncached: 0, routes: ROUTES, heap: ['daemon'], idleSeconds: 0 })
    expect({ errors: r.errors, wrongBytes: r.wrongBytes, firstErrors: r.firstErrors }).toEqual({ errors: 0, wrongBytes: 0, firstErrors: [] })
    const [early, late] = r.daemon.heap
    expect([early?.downloads, late?.downloads]).toEqual([COUNT / 10, COUNT])
    const grown = late!.bytes - early!.bytes
    const figures = `heap ${(early!.bytes / MiB).toFixed(1)} MiB after ${early!.downloads} → ${(late!.bytes / MiB).toFixed(1)} MiB after ${late!.downloads} downloads`
    expect(grown, figures).toBeLessThan(BOUND)
  }, 150_000)
})
