import type { ConsolaReporter, LogObject } from 'consola'
import { expect, it } from 'vitest'
import { formatField, guardReporter } from '../../cli/log-safety.ts'

const forged = 'http://127.0.0.1:1/a\r\n[success] forged'

function capture(): { reporter: ConsolaReporter; lines: () => string[] } {
  let out = ''
  return {
    reporter: { log: (entry: LogObject) => void (out += `[${entry.type}] ${entry.args.join(' ')}\n`) },
    lines: () => out.split('\n'),
  }
}
const entry = (type: LogObject['type'], ...args: unknown[]): LogObject => ({ type, args, level: 3, date: new Date(), tag: '' }) as LogObject

it('a CR/LF from outside cannot start a log line of its own', () => {
  const plain = capture()
  plain.reporter.log(entry('error', `cannot fetch ${forged}`), { options: {} as never })
  expect(plain.lines()).toContain('[success] forged') // control: unguarded, it forges a line

  const guarded = capture()
  guardReporter(guarded.reporter).log(entry('error', `cannot fetch ${forged}`), { options: {} as never })
  expect(guarded.lines().filter((l) => l.startsWith('['))).toEqual(['[error] cannot fetch http://127.0.0.1:1/a\\r'])
  expect(guarded.lines()).toContain('  [success] forged')
})

it('key=value fields are quoted when they hold spaces, quotes or control characters', () => {
  expect(formatField('url', 'http://h/x')).toBe('url=http://h/x')
  expect(formatField('url', forged)).toBe(`url=${JSON.stringify(forged)}`)
  expect(formatField('msg', 'a b')).toBe('msg="a b"')
  expect(formatField('bytes', 3)).toBe('bytes=3')
})
