export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`
}

/** At most 5 columns (`0`, `999`, `1.5K`, `120M`, `1.2G`), for lines that must fit a narrow terminal. */
export function formatBytesShort(n: number): string {
  if (n < 1000) return String(n)
  const units = ['K', 'M', 'G', 'T', 'P']
  let v = n / 1024
  let u = 0
  while (v >= 999.5 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return `${v < 9.95 ? v.toFixed(1) : Math.round(v)}${units[u]}`
}
