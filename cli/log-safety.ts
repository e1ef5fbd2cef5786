import type { ConsolaReporter, LogObject } from 'consola'

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is escaped
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/

/** Control characters other than newline and tab shown as escapes (`\r` → `\\r`), so text from outside can't move the cursor or end a line. */
export function escapeControl(text: string): string {
  return text.replace(new RegExp(CONTROL, 'g'), (c) => (c === '\r' ? '\\r' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
}

/**
 * A reporter that can't be made to print a line it did not write: a URL or a
 * peer's field holding `\r\n[error] ...` would otherwise forge a log entry.
 * Continuation lines of a log entry are indented; `consola.log` (tables, the
 * demo's report) keeps its layout and only loses control characters.
 */
export function guardReporter(reporter: ConsolaReporter): ConsolaReporter {
  return {
    log(entry: LogObject, ctx) {
      // `consola.log` is the program's own output (tables, reports): as it is, without a `[log]` badge.
      if (entry.type === 'log') {
        const stream = ctx.options.stdout ?? process.stdout
        stream.write(`${entry.args.map((a: unknown) => (typeof a === 'string' ? escapeControl(a) : String(a))).join(' ')}\n`)
        return
      }
      const args = entry.args.map((a: unknown) => (typeof a === 'string' ? escapeControl(a).replace(/\n/g, '\n  ') : a))
      reporter.log({ ...entry, args }, ctx)
    },
  }
}

/** A `key=value` field for a pretty log line: quoted when it holds a space, quote, `=` or control character. */
export function formatField(key: string, value: unknown): string {
  if (typeof value === 'string' && /^[^\s"=]*$/.test(value) && !CONTROL.test(value)) return `${key}=${value}`
  return `${key}=${JSON.stringify(value)}`
}
