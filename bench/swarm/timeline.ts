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
  /** Seconds since sampling started. */
  at: number
  /** Payload bytes per host over the period, index 0 = host 0. */
  up: number[]
  down: number[]
}

/** Starts sampling `topo`'s links every `periodMs`; `stop()` ends it and hands back the periods. */
export function sampleLinks(topo: Topology, periodMs = 1000): { stop(): TimelineSample[] } {
  const started = Date.now()
  let last = readCounters(topo)
  const samples: TimelineSample[] = []
  const bytes = (now: LinkCounters[], before: LinkCounters[]) => now.map((c, i) => payloadBytes(diffCounters(c, before[i]!)))
  const take = () => {
    const now = readCounters(topo)
    samples.push({ at: (Date.now() - started) / 1000, up: bytes(now.up, last.up), down: bytes(now.down, last.down) })
    last = now
  }
  const timer = setInterval(take, periodMs)
  return {
    stop() {
      clearInterval(timer)
      take()
      return samples
    },
  }
}

/** One line per period: `t  host0-up  peers-up mean/max  peers-down mean  receiving hosts`. */
export function formatTimeline(samples: TimelineSample[], rateBytes: number): string {
  const pct = (bytes: number, seconds: number) => `${Math.round((100 * bytes) / (rateBytes * seconds))}`.padStart(4)
  const lines = ['    t   h0-up%  peers-up% mean / max  peers-down% mean  receiving']
  let prev = 0
  for (const s of samples) {
    const seconds = Math.max(0.001, s.at - prev)
    prev = s.at
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
