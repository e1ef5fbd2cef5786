import { escapeControl } from './log-safety.ts'

/** Left-aligned columns padded to the widest cell; numbers are right-aligned. */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  // Cells come from peers (address, location): a newline in one must not start a row of its own.
  const cells = [headers, ...rows.map((r) => r.map((c) => escapeControl(String(c)).replace(/\n/g, '\\n')))]
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)))
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number'))
  return cells
    .map((r) =>
      r
        .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}
