import { formatWithOptions } from 'node:util'
import type { ConsolaReporter, LogObject } from 'consola'
import { createError } from '../core/errors.ts'
import { formatField, guardReporter } from './log-safety.ts'
import { consola } from './logger.ts'

export type LogFormat = 'pretty' | 'json'

/** One JSON object per line on stderr, for log shippers: `time`, `level`, `msg`, then the fields of a trailing object argument. */
const jsonReporter: ConsolaReporter = {
  log(entry: LogObject) {
    const args = [...entry.args]
    const last = args.at(-1)
    const fields = isPlainObject(last) ? (args.pop() as Record<string, unknown>) : {}
    const msg = formatWithOptions({ colors: false, breakLength: Infinity }, ...args)
    process.stderr.write(`${JSON.stringify({ time: entry.date.toISOString(), level: entry.type, ...(entry.tag ? { tag: entry.tag } : {}), msg, ...fields })}\n`)
  },
}

/**
 * `--log-format json` anywhere on the command line (or `DRAGONFLY_LOG_FORMAT=json`) switches every
 * command's logs; the flag is taken out of the arguments so no command mistakes its value for a positional.
 */
export function resolveLogFormat(argv: string[], env: Record<string, string | undefined>): { format: LogFormat; rest: string[] } {
  const i = argv.findIndex((a) => a === '--log-format' || a.startsWith('--log-format='))
  if (i < 0) return { format: env.DRAGONFLY_LOG_FORMAT === 'json' ? 'json' : 'pretty', rest: argv }
  const inline = argv[i]!.includes('=')
  const value = inline ? argv[i]!.slice('--log-format='.length) : argv[i + 1]
  if (value !== 'json' && value !== 'pretty')
    throw createError('E_BAD_ARGUMENT', `--log-format must be 'pretty' or 'json', got ${JSON.stringify(value ?? '')}`, { details: { flag: '--log-format' } })
  return { format: value, rest: [...argv.slice(0, i), ...argv.slice(i + (inline ? 1 : 2))] }
}

let json = false

export function configureLogging(format: LogFormat): void {
  json = format === 'json'
  // JSON lines escape control characters themselves.
  if (json) consola.setReporters([jsonReporter])
  else consola.setReporters(consola.options.reporters.map(guardReporter))
}

export function isJsonLogging(): boolean {
  return json
}

/** A log line with fields: an object for the JSON reporter, `key=value` pairs for people. */
export function logEvent(level: 'info' | 'warn' | 'error' | 'success', msg: string, fields: Record<string, unknown>): void {
  if (isJsonLogging()) consola[level](msg, fields)
  else
    consola[level](
      `${msg} ${Object.entries(fields)
        .map(([k, v]) => formatField(k, v))
        .join(' ')}`,
    )
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}

/** Declared by every command so its help lists it; the value is taken out of argv before citty sees it. */
export const LOG_FORMAT_ARG = {
  type: 'string',
  valueHint: 'pretty|json',
  description: 'Log lines as text (default) or one JSON object per line on stderr (also DRAGONFLY_LOG_FORMAT)',
} as const
