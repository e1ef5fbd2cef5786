import { loadavg } from 'node:os'
import { runSupernodeBench, type SupernodeBenchOptions } from './run.ts'

/**
 * The supernode's CPU per request over the whole HTTP path, as a linear
 * model fitted on several bench runs whose shapes differ (pieces per pull,
 * pulls per peer, peers): CPU = request × requests + register × registers +
 * piece × assignments + rerun × reruns, a rerun being a held long-poll pull
 * scheduling again after a wake-up (the supernode's `swarm.pull` count less
 * the pull requests). A run's results always equal its assignments (each
 * piece handed out is reported once), so only their sum, `piece`, is
 * measurable; bench:sim charges half of it per result and half per assignment.
 */
export interface CostFit {
  requestUs: number
  registerUs: number
  pieceUs: number
  rerunUs: number
  /** Standard errors, from the runs' scatter around the model. */
  standardErrorUs: { request: number; register: number; piece: number; rerun: number }
  runs: FitRun[]
}

export interface FitRun {
  options: SupernodeBenchOptions
  pieceCount: number
  /** HTTP requests of every kind: register, pulls (with the final report), leave. */
  requests: number
  registers: number
  assignments: number
  reruns: number
  cpuSeconds: number
  /** What the fitted model says, and the machine's load average before and after the run. */
  predictedSeconds: number
  load: [number, number]
}

/**
 * Shapes that move pieces per request (want 2 to 32; with the default 6
 * upload slots per peer a pull hands out ~4 pieces whatever the want above
 * 8, so the want-32 shapes register 64 slots), pulls per peer (64 or 256
 * pieces) and registrations per request (4 pieces: register, one pull,
 * report, leave) apart.
 */
export const FIT_RUNS: SupernodeBenchOptions[] = [
  { peers: 1000, sizeMiB: 16, want: 8 },
  { peers: 1000, sizeMiB: 16, want: 2 },
  { peers: 1000, sizeMiB: 16, want: 32, slots: 64 },
  { peers: 1000, sizeMiB: 1, want: 8 },
  { peers: 300, sizeMiB: 64, want: 8 },
  { peers: 300, sizeMiB: 64, want: 2 },
  { peers: 300, sizeMiB: 64, want: 32, slots: 64 },
]

/** Runs every shape `repeat` times, round robin (so a change of load touches every shape alike), and fits the model on all runs. */
export async function fitSupernodeCost(shapes = FIT_RUNS, repeat = 1, progress?: (line: string) => void): Promise<CostFit> {
  const runs: FitRun[] = []
  for (const options of Array.from({ length: repeat }, () => shapes).flat()) {
    const before = loadavg()[0]!
    const r = await runSupernodeBench(options)
    // A virtual peer can fail on a machine this busy (its pulls came too late and the supernode expired it): that run is left out.
    if (r.failures.length > 0) {
      progress?.(`${JSON.stringify(options)}: left out, ${r.failures.length} virtual peers failed (${r.failures[0]})`)
      continue
    }
    const run: FitRun = {
      options,
      pieceCount: r.pieceCount,
      requests: r.requestCount,
      registers: r.requests.register.count,
      assignments: r.assignments,
      reruns: Math.max(0, r.schedule.pulls - (r.requests.work.count + r.requests.empty.count + r.requests.report.count)),
      cpuSeconds: r.supernode.cpuSeconds,
      predictedSeconds: 0,
      load: [before, loadavg()[0]!],
    }
    runs.push(run)
    progress?.(
      `${options.peers} peers, ${r.pieceCount} pieces, want ${options.want}${options.slots ? `, ${options.slots} slots` : ''}: ${run.requests} requests, ${run.assignments} assignments, ${run.reruns} reruns, ${run.cpuSeconds.toFixed(2)} CPU-s (load ${run.load.map((l) => l.toFixed(1)).join(' → ')})`,
    )
  }
  const { coefficients, standardErrors } = leastSquares(
    runs.map((r) => [r.requests, r.registers, r.assignments, r.reruns]),
    runs.map((r) => r.cpuSeconds),
  )
  const [request = 0, register = 0, piece = 0, rerun = 0] = coefficients
  const [seRequest = 0, seRegister = 0, sePiece = 0, seRerun = 0] = standardErrors
  for (const r of runs) r.predictedSeconds = request * r.requests + register * r.registers + piece * r.assignments + rerun * r.reruns
  return {
    requestUs: request * 1e6,
    registerUs: register * 1e6,
    pieceUs: piece * 1e6,
    rerunUs: rerun * 1e6,
    standardErrorUs: { request: seRequest * 1e6, register: seRegister * 1e6, piece: sePiece * 1e6, rerun: seRerun * 1e6 },
    runs,
  }
}

/**
 * Ordinary least squares without intercept: b = (XᵀX)⁻¹ Xᵀy by Gauss-Jordan
 * elimination with partial pivoting; standard errors from the residuals
 * (NaN with no more runs than unknowns).
 */
export function leastSquares(x: number[][], y: number[]): { coefficients: number[]; standardErrors: number[] } {
  const k = x[0]?.length ?? 0
  const dot = (i: number, j: number): number => x.reduce((s, row) => s + row[i]! * row[j]!, 0)
  // [XᵀX | Xᵀy | I]: reduced to [I | b | (XᵀX)⁻¹].
  const a = Array.from({ length: k }, (_, i) => [
    ...Array.from({ length: k }, (_, j) => dot(i, j)),
    x.reduce((s, row, n) => s + row[i]! * y[n]!, 0),
    ...Array.from({ length: k }, (_, j) => (i === j ? 1 : 0)),
  ])
  for (let col = 0; col < k; col++) {
    let pivot = col
    for (let r = col + 1; r < k; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r
    ;[a[col], a[pivot]] = [a[pivot]!, a[col]!]
    const d = a[col]![col]!
    if (d === 0) throw new Error('the runs do not determine the model (singular system)')
    for (let c = 0; c <= 2 * k; c++) a[col]![c]! /= d
    for (let r = 0; r < k; r++) {
      if (r === col) continue
      const f = a[r]![col]!
      for (let c = 0; c <= 2 * k; c++) a[r]![c]! -= f * a[col]![c]!
    }
  }
  const coefficients = a.map((row) => row[k]!)
  const residual = x.reduce((s, row, n) => s + (y[n]! - row.reduce((t, v, j) => t + v * coefficients[j]!, 0)) ** 2, 0)
  const variance = x.length > k ? residual / (x.length - k) : NaN
  return { coefficients, standardErrors: a.map((row, i) => Math.sqrt(variance * row[k + 1 + i]!)) }
}

export function formatFit(fit: CostFit): string {
  const e = fit.standardErrorUs
  const r0 = (x: number): string => x.toFixed(0)
  const us = (x: number, se: number): string => `${x.toFixed(1)} ± ${se.toFixed(1)} µs`
  const lines = [
    'peers | pieces | want | slots | requests | registers | assignments | reruns | supernode CPU-s | model | error | load avg',
    ...fit.runs.map((r) =>
      [
        r.options.peers,
        r.pieceCount,
        r.options.want,
        r.options.slots ?? 6,
        r.requests,
        r.registers,
        r.assignments,
        r.reruns,
        r.cpuSeconds.toFixed(2),
        r.predictedSeconds.toFixed(2),
        `${(((r.predictedSeconds - r.cpuSeconds) / r.cpuSeconds) * 100).toFixed(1)} %`,
        r.load.map((l) => l.toFixed(1)).join(' → '),
      ].join(' | '),
    ),
    '',
    `fit (± one standard error): ${us(fit.requestUs, e.request)} per request + ${us(fit.registerUs, e.register)} per register + ${us(fit.pieceUs, e.piece)} per piece (its assignment and its result) + ${us(fit.rerunUs, e.rerun)} per long-poll rerun`,
    `bench:sim --supernode-cost request=${r0(fit.requestUs)},register=${r0(fit.registerUs)},result=${r0(fit.pieceUs / 2)},assignment=${r0(fit.pieceUs / 2)},rerun=${r0(fit.rerunUs)}`,
  ]
  return lines.join('\n')
}
