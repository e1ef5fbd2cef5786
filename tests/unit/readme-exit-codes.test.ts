import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { ERROR_CODES } from '../../core/errors.ts'

it("README's exit code table lists every error code with the exit code the CLI uses", async () => {
  const readme = await readFile(join(import.meta.dirname, '../../README.md'), 'utf8')
  const documented: Record<string, number> = {}
  for (const [, exit, codes] of readme.matchAll(/^\| (\d+) \| (.*) \|$/gm) as Iterable<[string, string, string]>) {
    for (const [code] of codes.matchAll(/E_[A-Z_]+/g)) documented[code] = Number(exit)
  }
  const actual = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { exit }]) => [code, exit]))
  expect(documented).toEqual(actual)
})
