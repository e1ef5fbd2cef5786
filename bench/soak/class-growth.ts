import type { HeapSummary } from './heap-snapshot.ts'

/** The classes whose live bytes grew most between two heap summaries, as printable lines. */
export function classGrowth(before: HeapSummary, after: HeapSummary, top = 8): string[] {
  const rows = [...after.byClass].map(([name, b]) => {
    const a = before.byClass.get(name) ?? { count: 0, bytes: 0 }
    return { name, bytes: b.bytes - a.bytes, count: b.count - a.count }
  })
  return rows
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, top)
    .map((r) => `${String(r.bytes).padStart(10)} bytes ${String(r.count).padStart(8)} objects  ${r.name}`)
}
