import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '../..')
const CODE = ['cli', 'core', 'config', 'runtime', 'plugins', 'bin', 'testing', 'tests/helpers']

async function files(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true })
  return entries.filter((e) => e.isFile() && /\.(ts|cjs|mjs)$/.test(e.name)).map((e) => join(e.parentPath, e.name))
}

it('every DRAGONFLY_* variable the code reads is in the README table, and the table lists no other', async () => {
  const read = new Set<string>()
  for (const file of (await Promise.all(CODE.map(files))).flat()) {
    for (const [name] of (await readFile(file, 'utf8')).matchAll(/DRAGONFLY_[A-Z_]+/g)) read.add(name)
  }
  expect(read.has('DRAGONFLY_CONFIG')).toBe(true) // control: the scan finds them
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8')
  const documented = new Set([...readme.matchAll(/^\| `(DRAGONFLY_[A-Z_]+)` \|/gm)].map((m) => m[1]!))
  expect([...read].sort()).toEqual([...documented].sort())
})
