import { expect, it } from 'vitest'
import { formatBytes, formatBytesShort } from '../../cli/format.ts'
import { progressLayout } from '../../cli/progress.ts'

/** The bar as cli-progress fills it, with every field at its widest. */
function widest(columns: number): string {
  const { format, barsize, wide } = progressLayout(columns)
  const size = wide ? formatBytes(1023.9 * 1024 ** 3) : formatBytesShort(1023 * 1024 ** 2)
  const fields: Record<string, string> = { bar: '#'.repeat(barsize), percentage: '100', eta_formatted: '999h59m' }
  for (const name of ['done', 'size', 'rate', 'peers', 'supernode', 'source']) fields[name] = size
  return format.replace(/\{(\w+)\}/g, (_, name: string) => fields[name] ?? `{${name}}`)
}

it('at 80 columns the progress bar keeps the peers / supernode / source split whole', () => {
  const line = widest(80)
  expect(line).not.toMatch(/\{/)
  expect(line.length).toBeLessThanOrEqual(80)
  expect(line).toMatch(/peers \S+ sn \S+ src \S+$/)
  // Control: the wide layout, which a wide terminal gets, would not fit.
  expect(widest(200).length).toBeGreaterThan(80)
  expect(widest(200).length).toBeLessThanOrEqual(140)
})

it('short sizes stay within 5 columns', () => {
  for (const n of [0, 999, 1000, 1024, 10 * 1024 - 1, 999 * 1024, 1000 * 1024, 1024 ** 3, 5.5 * 1024 ** 4, 2 ** 53]) {
    expect(formatBytesShort(n).length, `${n} → ${formatBytesShort(n)}`).toBeLessThanOrEqual(5)
  }
  expect(formatBytesShort(1536)).toBe('1.5K')
})
