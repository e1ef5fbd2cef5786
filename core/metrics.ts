/**
 * A small metrics registry that renders the Prometheus text exposition format
 * (version 0.0.4). Web APIs only, so the supernode and the daemon share it on
 * every runtime.
 */

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export type Labels = Record<string, string>

interface Sample {
  labels: Labels
  value: number
}

interface Metric {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  samples(): Sample[] | { suffix: string; labels: Labels; value: number }[]
}

export interface MetricOptions {
  name: string
  help: string
  /** Label sets exported as 0 before their first change. @default [{}] for a counter */
  initial?: Labels[]
}

export interface GaugeOptions extends MetricOptions {
  /** Read the value at scrape time instead of keeping one. */
  collect?: () => number | Sample[]
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, ascending; `+Inf` is added. */
  buckets: number[]
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Default buckets for durations in seconds, from 0.5 ms to 10 s. */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

export class Counter {
  private readonly values = new Map<string, Sample>()
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError('a counter only goes up')
    const key = labelKey(labels)
    const sample = this.values.get(key)
    if (sample) sample.value += by
    else this.values.set(key, { labels: checkLabels(labels), value: by })
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels))?.value ?? 0
  }
  samples(): Sample[] {
    return [...this.values.values()]
  }
}

export class Gauge {
  private readonly values = new Map<string, Sample>()
  constructor(private readonly collect?: () => number | Sample[]) {}
  set(value: number, labels: Labels = {}): void {
    this.values.set(labelKey(labels), { labels: checkLabels(labels), value })
  }
  inc(by = 1, labels: Labels = {}): void {
    this.set(this.get(labels) + by, labels)
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels))?.value ?? 0
  }
  samples(): Sample[] {
    if (!this.collect) return [...this.values.values()]
    const value = this.collect()
    return typeof value === 'number' ? [{ labels: {}, value }] : value
  }
}

export class Histogram {
  readonly buckets: number[]
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>()
  constructor(buckets: number[]) {
    if (buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) throw new RangeError('histogram buckets must ascend')
    this.buckets = buckets
  }
  observe(value: number, labels: Labels = {}): void {
    const key = labelKey(labels)
    let s = this.series.get(key)
    if (!s) this.series.set(key, (s = { labels: checkLabels(labels), counts: this.buckets.map(() => 0), sum: 0, count: 0 }))
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++
    s.sum += value
    s.count++
  }
  /** Times `fn` in seconds. */
  time<T>(fn: () => T, labels: Labels = {}): T {
    const started = performance.now()
    try {
      return fn()
    } finally {
      this.observe((performance.now() - started) / 1000, labels)
    }
  }
  samples(): { suffix: string; labels: Labels; value: number }[] {
    const out: { suffix: string; labels: Labels; value: number }[] = []
    for (const s of this.series.values()) {
      this.buckets.forEach((le, i) => {
        out.push({ suffix: '_bucket', labels: { ...s.labels, le: formatValue(le) }, value: s.counts[i]! })
      })
      out.push({ suffix: '_bucket', labels: { ...s.labels, le: '+Inf' }, value: s.count })
      out.push({ suffix: '_sum', labels: s.labels, value: s.sum })
      out.push({ suffix: '_count', labels: s.labels, value: s.count })
    }
    return out
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>()

  counter(options: MetricOptions): Counter {
    if (!options.name.endsWith('_total')) throw new RangeError(`counter ${options.name} must end in _total`)
    const counter = new Counter()
    for (const labels of options.initial ?? [{}]) counter.inc(labels, 0)
    this.add(options, 'counter', () => counter.samples())
    return counter
  }

  gauge(options: GaugeOptions): Gauge {
    const gauge = new Gauge(options.collect)
    this.add(options, 'gauge', () => gauge.samples())
    return gauge
  }

  histogram(options: HistogramOptions): Histogram {
    const histogram = new Histogram(options.buckets)
    this.add(options, 'histogram', () => histogram.samples())
    return histogram
  }

  /** The text exposition format, one `# HELP`/`# TYPE` block per metric. */
  render(): string {
    const lines: string[] = []
    for (const m of this.metrics.values()) {
      lines.push(`# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${m.name} ${m.type}`)
      for (const s of m.samples()) {
        const suffix = 'suffix' in s ? s.suffix : ''
        lines.push(`${m.name}${suffix}${formatLabels(s.labels)} ${formatValue(s.value)}`)
      }
    }
    return `${lines.join('\n')}\n`
  }

  private add(options: MetricOptions, type: Metric['type'], samples: Metric['samples']): void {
    if (!NAME_RE.test(options.name)) throw new RangeError(`bad metric name ${options.name}`)
    if (this.metrics.has(options.name)) throw new RangeError(`metric ${options.name} is registered twice`)
    this.metrics.set(options.name, { name: options.name, help: options.help, type, samples })
  }
}

export function createMetricsRegistry(): MetricsRegistry {
  return new MetricsRegistry()
}

function checkLabels(labels: Labels): Labels {
  for (const name of Object.keys(labels)) if (!LABEL_RE.test(name) || name.startsWith('__')) throw new RangeError(`bad label name ${name}`)
  return { ...labels }
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)))
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}
