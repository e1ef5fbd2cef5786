export interface Series {
  name: string
  color: string
  /** [x, y] points. */
  points: [number, number][]
  dashed?: boolean
}

export interface ChartOptions {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  /** A line under the title: what was measured and how. */
  note?: string
}

const W = 680
const H = 400
const M = { left: 64, right: 170, top: 56, bottom: 52 }

/** A small line chart as standalone SVG text (no dependencies): x ticks at the data's x values, y from 0. */
export function lineChart(o: ChartOptions): string {
  const xs = [...new Set(o.series.flatMap((s) => s.points.map(([x]) => x)))].sort((a, b) => a - b)
  const yMax = niceCeil(Math.max(1e-9, ...o.series.flatMap((s) => s.points.map(([, y]) => y))))
  const x0 = xs[0] ?? 0
  const x1 = xs[xs.length - 1] ?? 1
  const px = (x: number): number => M.left + (x1 === x0 ? (W - M.left - M.right) / 2 : ((x - x0) / (x1 - x0)) * (W - M.left - M.right))
  const py = (y: number): number => H - M.bottom - (y / yMax) * (H - M.top - M.bottom)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(o.title)}</text>`)
  if (o.note) out.push(`<text x="${M.left}" y="40" fill="#555">${esc(o.note)}</text>`)
  for (let i = 0; i <= 5; i++) {
    const y = (yMax * i) / 5
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/>`)
    out.push(`<text x="${M.left - 8}" y="${py(y) + 4}" text-anchor="end">${fmt(y)}</text>`)
  }
  for (const x of xs) out.push(`<text x="${px(x)}" y="${H - M.bottom + 18}" text-anchor="middle">${fmt(x)}</text>`)
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#333"/>`)
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`)
  out.push(`<text transform="translate(18 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`)
  o.series.forEach((s, i) => {
    const path = s.points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')
    out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`)
    for (const [x, y] of s.points)
      out.push(
        `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${s.color}"><title>${esc(s.name)}: ${fmt(y)} at ${fmt(x)}</title></circle>`,
      )
    const ly = M.top + 10 + i * 20
    out.push(
      `<line x1="${W - M.right + 14}" x2="${W - M.right + 38}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    )
    out.push(`<text x="${W - M.right + 44}" y="${ly + 4}">${esc(s.name)}</text>`)
  })
  out.push('</svg>')
  return `${out.join('\n')}\n`
}

function niceCeil(v: number): number {
  const step = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= v) return m * step
  return 10 * step
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 1 : 0)
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
