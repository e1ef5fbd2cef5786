import * as v from 'valibot'
import { isSize, parseSize } from './size.ts'
import { parseCidr } from './source/ip-address.ts'

/**
 * The kinds of value options are made of, each with its check and the words
 * a user reads when a value does not fit. The offending value is appended by
 * whoever reports it (config/issues.ts), so these say only what is expected.
 */

const PORT = 'must be a port number from 0 to 65535'
const SHARE = 'must be a share from 0 to 1, like 0.9'
const SIZE = 'must be a size like 512KB, 20MB or 2GB, or a number of bytes'
const URL_LIKE = 'must be a URL like http://host:port'
const REGEXP = 'must be a valid regular expression'

/** A whole number from `min` (to `max`): slots, pieces, milliseconds. */
export function wholeNumber(min: number, max?: number) {
  const message = max === undefined ? `must be a whole number of at least ${min}` : `must be a whole number from ${min} to ${max}`
  return v.pipe(v.number(message), v.integer(message), v.minValue(min, message), v.maxValue(max ?? Number.POSITIVE_INFINITY, message))
}

/** A count of at least 1 (slots, pieces in parallel, milliseconds of a timeout). */
export const Count = wholeNumber(1)

/** A TCP port; 0 picks a free one. */
export const Port = v.pipe(v.number(PORT), v.integer(PORT), v.minValue(0, PORT), v.maxValue(65535, PORT))

/** A share of a whole, from 0 to 1 (cache watermarks). */
export const Share = v.pipe(v.number(SHARE), v.minValue(0, SHARE), v.maxValue(1, SHARE))

/** Bytes, or bytes per second: `512KB`, `20MB`, `1.5GiB`, `20MB/s` or a number (core/size.ts); read as a number of bytes. */
export const Size = v.pipe(
  v.union([v.string(), v.number()], SIZE),
  v.check((value) => isSize(value), SIZE),
  v.transform((value) => parseSize(value)),
)

/** An absolute URL (`http://sn1:8002`). */
export const Url = v.pipe(v.string(URL_LIKE), v.url(URL_LIKE))

/** The source of a JavaScript regular expression (`^https://cdn\.example\.com/`). */
export const RegExpSource = v.pipe(v.string(REGEXP), v.check(isRegExp, REGEXP))

function isRegExp(source: string): boolean {
  try {
    new RegExp(source)
    return true
  } catch {
    return false
  }
}

const SOURCE_PATTERN = 'must be a host name (*.example.com), an address or a CIDR range (10.0.0.0/8)'
/** An `allowSources`/`denySources` entry (core/source/source-guard.ts). */
export const SourcePattern = v.pipe(v.string(SOURCE_PATTERN), v.check(isSourcePattern, SOURCE_PATTERN))

function isSourcePattern(pattern: string): boolean {
  const p = pattern.trim()
  return parseCidr(p) !== null || /^[a-z0-9*](?:[a-z0-9*.-]*)$/i.test(p)
}
