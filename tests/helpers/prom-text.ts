/**
 * A strict parser for the Prometheus text exposition format (0.0.4), for
 * tests: anything a scraper could reject throws.
 */
export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface PromFamily {
  name: string
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'
  help?: string
  samples: PromSample[]
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`)
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)/y

export function parsePromText(text: string): Map<string, PromFamily> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const families = new Map<string, PromFamily>()
  const closed = new Set<string>()
  let current: PromFamily | undefined
  const familyOf = (sample: string): PromFamily | undefined => {
    for (const suffix of ['', '_bucket', '_sum', '_count']) {
      const f = families.get(suffix ? sample.slice(0, -suffix.length) : sample)
      if (f && sample.endsWith(suffix) && (suffix === '' || f.type === 'histogram' || f.type === 'summary')) return f
    }
    return undefined
  }
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, i) => {
      const where = `line ${i + 1}: ${JSON.stringify(line)}`
      if (line === '') return
      const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (meta) {
        const [, kind, name, rest] = meta as unknown as [string, string, string, string]
        if (!new RegExp(`^${NAME}$`).test(name)) throw new Error(`bad metric name, ${where}`)
        let family = families.get(name)
        if (!family) {
          if (closed.has(name)) throw new Error(`family ${name} appears twice, ${where}`)
          family = { name, type: 'untyped', samples: [] }
          families.set(name, family)
        }
        if (current && current !== family) closed.add(current.name)
        current = family
        if (kind === 'TYPE') {
          if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`bad type, ${where}`)
          if (family.samples.length > 0) throw new Error(`TYPE after samples, ${where}`)
          family.type = rest as PromFamily['type']
        } else {
          family.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\')
        }
        return
      }
      if (line.startsWith('#')) return
      const m = SAMPLE_RE.exec(line)
      if (!m) throw new Error(`not a sample, ${where}`)
      const [, name, rawLabels, rawValue] = m as unknown as [string, string, string | undefined, string]
      const labels: Record<string, string> = {}
      if (rawLabels !== undefined && rawLabels.trim() !== '') {
        LABEL_RE.lastIndex = 0
        while (LABEL_RE.lastIndex < rawLabels.length) {
          const l = LABEL_RE.exec(rawLabels)
          if (!l) throw new Error(`bad labels, ${where}`)
          if (l[1]! in labels) throw new Error(`duplicate label ${l[1]}, ${where}`)
          labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
          if (l[3] === '') break
        }
      }
      const value = rawValue === '+Inf' ? Infinity : rawValue === '-Inf' ? -Infinity : rawValue === 'NaN' ? NaN : Number(rawValue)
      if (Number.isNaN(value) && rawValue !== 'NaN') throw new Error(`bad value, ${where}`)
      const family = familyOf(name)
      if (!family) throw new Error(`sample without a TYPE, ${where}`)
      if (family !== current) throw new Error(`samples of ${family.name} are not together, ${where}`)
      if (family.type === 'counter' && (!name.endsWith('_total') || value < 0)) throw new Error(`bad counter sample, ${where}`)
      family.samples.push({ name, labels, value })
    })
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f)
  return families
}

function checkHistogram(f: PromFamily): void {
  const series = new Map<string, PromSample[]>()
  for (const s of f.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(rest)
    series.set(key, [...(series.get(key) ?? []), s])
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`)
    const count = samples.find((s) => s.name === `${f.name}_count`)
    if (!count || !samples.some((s) => s.name === `${f.name}_sum`)) throw new Error(`${f.name}: _sum or _count missing`)
    if (buckets.at(-1)?.labels.le !== '+Inf' || buckets.at(-1)!.value !== count.value) throw new Error(`${f.name}: +Inf bucket must equal _count`)
    buckets.forEach((b, i) => {
      if (i > 0 && (b.value < buckets[i - 1]!.value || Number(b.labels.le) <= Number(buckets[i - 1]!.labels.le)))
        throw new Error(`${f.name}: buckets must be cumulative`)
    })
  }
}

/** The value of one sample; throws when it is absent. */
export function sampleValue(families: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}): number {
  for (const f of families.values()) {
    const s = f.samples.find(
      (x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v) && Object.keys(x.labels).length === Object.keys(labels).length,
    )
    if (s) return s.value
  }
  throw new Error(`no sample ${name}${JSON.stringify(labels)}`)
}
