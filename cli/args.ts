import { createError } from '../core/errors.ts'
import { isSize } from '../core/size.ts'

/** citty keeps only the last value of a repeated flag; these are collected from argv directly. */
export function repeated(rawArgs: string[], ...names: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!
    if (arg === '--') break
    for (const name of names) {
      const flag = name.length === 1 ? `-${name}` : `--${name}`
      if (arg === flag && i + 1 < rawArgs.length) out.push(rawArgs[++i]!)
      else if (arg.startsWith(`${flag}=`)) out.push(arg.slice(flag.length + 1))
    }
  }
  return out
}

/** `-H 'Name: value'` → { name: value }. */
export function parseHeaders(values: string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const raw of values) {
    const at = raw.indexOf(':')
    const name = at > 0 ? raw.slice(0, at).trim() : ''
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw createError('E_BAD_ARGUMENT', `header must look like 'Name: value', got ${JSON.stringify(raw)}`)
    // eslint-disable-next-line no-control-regex
    if (/[\r\n\0]/.test(raw)) throw createError('E_BAD_ARGUMENT', `header value must be one line, got ${JSON.stringify(raw)}`)
    headers[name.toLowerCase()] = raw.slice(at + 1).trim()
  }
  return headers
}

export function parseSupernodes(values: string[]): string[] {
  return values
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean)
    .map((v) => {
      const url = /^https?:\/\//.test(v) ? v : `http://${v}`
      try {
        new URL(url)
      } catch {
        throw createError('E_BAD_ARGUMENT', `--supernode must be a URL or host:port, got ${JSON.stringify(v)}`)
      }
      return url.replace(/\/+$/, '')
    })
}

export function parseIntArg(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max)
    throw createError('E_BAD_ARGUMENT', `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return n
}

/** A `--rate-limit`-style flag: checked here so a typo is a CLI error (E_BAD_ARGUMENT), kept as given for the config. */
export function rateArg(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined
  if (!isSize(value)) throw createError('E_BAD_ARGUMENT', `--${name} must be bytes per second like 20MB or 512KB, got ${JSON.stringify(value)}`)
  return value
}

/** The URL a user typed: whitespace or control characters are refused, not silently dropped as the URL parser would. */
export function urlArg(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f]/.test(value)) throw createError('E_BAD_ARGUMENT', `a URL can't hold spaces or control characters: ${JSON.stringify(value)}`)
  return value
}
