/**
 * `--timeline`: what the links did, second by second, while one system ran.
 * Samples every tbf's counters (netns.ts) at a fixed period and prints, per
 * period, host 0's uplink, the peers' uplinks (mean and the busiest) and the
 * peers' downlinks as a share of the link rate. It shows where a run loses
 * time against the bound: a seed uplink below 100 %, peers' uplinks idle
 * while they still miss pieces, a tail where only a few hosts still receive.
 */
import { diffCounters, type LinkCounters, payloadBytes, readCounters, type Topology } from './netns.ts'

export interface TimelineSample {
  /** Seconds since sampling started; `sampleLinks`' `stop(clockAt)` makes them seconds since the clock started. */
  at: number
  /** The period's length, seconds. */
  seconds: number
  /** Payload bytes per host over the period, index 0 = host 0. */
  up: number[]
  down: number[]
}

/**
 * Starts sampling `topo`'s links every `periodMs`; `stop(clockAt)` ends it and hands back the periods, timed from
 * `clockAt` (Date.now() when the clock started) when given: sampling starts before a system's set-up (its supernode,
 * its daemons), and those periods come out with negative times.
 */
export function sampleLinks(topo: Topology, periodMs = 1000): { stop(clockAt?: number): TimelineSample[] } {
  const started = Date.now()
  let last = readCounters(topo)
  const samples: TimelineSample[] = []
  const bytes = (now: LinkCounters[], before: LinkCounters[]) => now.map((c, i) => payloadBytes(diffCounters(c, before[i]!)))
  let lastAt = started
  const take = () => {
    const now = readCounters(topo)
    const at = Date.now()
    samples.push({ at: (at - started) / 1000, seconds: Math.max(0.001, (at - lastAt) / 1000), up: bytes(now.up, last.up), down: bytes(now.down, last.down) })
    last = now
    lastAt = at
  }
  const timer = setInterval(take, periodMs)
  return {
    stop(clockAt) {
      clearInterval(timer)
      take()
      const shift = clockAt === undefined ? 0 : (clockAt - started) / 1000
      return samples.map((sample) => ({ ...sample, at: sample.at - shift }))
    },
  }
}

/** One line per period: `t  host0-up  peers-up mean/max  peers-down mean  receiving hosts`; t < 0 is set-up, before the clock. */
export function formatTimeline(samples: TimelineSample[], rateBytes: number): string {
  const pct = (bytes: number, seconds: number) => `${Math.round((100 * bytes) / (rateBytes * seconds))}`.padStart(4)
  const lines = ['    t   h0-up%  peers-up% mean / max  peers-down% mean  receiving']
  for (const s of samples) {
    const { seconds } = s
    const ups = s.up.slice(1)
    const downs = s.down.slice(1)
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
    const receiving = downs.filter((d) => d > rateBytes * seconds * 0.05).length
    lines.push(
      `${s.at.toFixed(1).padStart(5)}   ${pct(s.up[0]!, seconds)}    ${pct(mean(ups), seconds)} / ${pct(Math.max(...ups), seconds)}          ${pct(mean(downs), seconds)}             ${receiving}/${downs.length}`,
    )
  }
  return lines.join('\n')
}
