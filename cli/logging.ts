import { consola, type ConsolaReporter, type LogObject } from 'consola'
import { formatWithOptions } from 'node:util'

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

/** `--log-format json` or `DRAGONFLY_LOG_FORMAT=json` anywhere on the command line switches every command's logs. */
export function resolveLogFormat(argv: string[], env: Record<string, string | undefined>): LogFormat {
  const i = argv.findIndex((a) => a === '--log-format' || a.startsWith('--log-format='))
  const value = i < 0 ? env.DRAGONFLY_LOG_FORMAT : argv[i]!.includes('=') ? argv[i]!.split('=')[1] : argv[i + 1]
  return value === 'json' ? 'json' : 'pretty'
}

export function configureLogging(format: LogFormat): void {
  if (format === 'json') consola.setReporters([jsonReporter])
}

export function isJsonLogging(): boolean {
  return consola.options.reporters.length === 1 && consola.options.reporters[0] === jsonReporter
}

/** A log line with fields: an object for the JSON reporter, `key=value` pairs for people. */
export function logEvent(level: 'info' | 'warn' | 'error' | 'success', msg: string, fields: Record<string, unknown>): void {
  if (isJsonLogging()) consola[level](msg, fields)
  else consola[level](`${msg} ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`)
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype
}
