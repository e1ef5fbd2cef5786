/** CPU time of `Swarm.pull` calls that asked for work (want > 0). */
export class PullMeter {
  private samples = new Float64Array(1 << 16)
  calls = 0
  totalMs = 0
  assigned = 0
  /** Calls that handed out nothing. */
  empty = 0

  record(ms: number, assignments: number): void {
    if (this.calls === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2)
      grown.set(this.samples)
      this.samples = grown
    }
    this.samples[this.calls++] = ms
    this.totalMs += ms
    this.assigned += assignments
    if (assignments === 0) this.empty++
  }

  get meanUs(): number {
    return this.calls === 0 ? 0 : (this.totalMs / this.calls) * 1000
  }

  quantileUs(q: number): number {
    if (this.calls === 0) return 0
    const sorted = this.samples.slice(0, this.calls).sort()
    return sorted[Math.min(this.calls - 1, Math.floor(q * this.calls))]! * 1000
  }

  /** Assignments handed out per second of scheduler CPU. */
  get piecesPerCpuSecond(): number {
    return this.totalMs === 0 ? 0 : this.assigned / (this.totalMs / 1000)
  }
}
