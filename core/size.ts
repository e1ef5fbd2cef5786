import { createError } from './errors.ts'

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
}

/** `512KB`, `20MB`, `1.5GiB`, or a number of bytes. Units are binary (1 KB = 1024 B), as in dfget. */
export function parseSize(value: string | number, what = 'size'): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value)
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*(?:\/s)?\s*$/i.exec(String(value))
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined
  if (!m || unit === undefined) throw createError('E_CONFIG', `${what} must look like 512KB, 20MB or 2GB, got ${JSON.stringify(value)}`)
  return Math.floor(Number(m[1]) * unit)
}

/** True when `parseSize` accepts the value (for config validation). */
export function isSize(value: string | number): boolean {
  try {
    parseSize(value)
    return true
  } catch {
    return false
  }
}

/** A rate in bytes per second (`20MB`, `512KB`, `20MB/s`); 0 or undefined means unlimited. */
export function parseRate(value: string | number | undefined, what: string): number | undefined {
  if (value === undefined || value === '') return undefined
  return parseSize(value, what) || undefined
}
