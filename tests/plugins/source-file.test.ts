import { randomBytes } from 'node:crypto'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import sourceFile from '../../plugins/source-file/index.ts'
import { testSource } from '../../testing/index.ts'
import { tempDir } from '../helpers/cli.ts'
import { optionError } from '../helpers/option-error.ts'

async function fixture() {
  const dir = await tempDir()
  await mkdir(join(dir, 'public'))
  const content = randomBytes(300_000)
  await writeFile(join(dir, 'public', 'blob'), content)
  await writeFile(join(dir, 'secret'), 'not for you')
  return { dir, content, url: pathToFileURL(join(dir, 'public', 'blob')).href }
}

describe('source-file', () => {
  it('passes testSource against a real file, with the default chunk size and a tiny one', async () => {
    const { dir, content, url } = await fixture()
    const missingUrl = pathToFileURL(join(dir, 'public', 'nope')).href
    await testSource(sourceFile(), { url, content, missingUrl })
    await testSource(sourceFile({ chunkSize: 1000, root: join(dir, 'public') }), { url, content, missingUrl })
  })

  it('answers 403 outside root', async () => {
    const { dir, url } = await fixture()
    const { source } = sourceFile({ root: join(dir, 'public') })
    expect((await source.fetch({ url, headers: {}, method: 'HEAD' })).status).toBe(200)
    const outside = await source.fetch({ url: pathToFileURL(join(dir, 'secret')).href, headers: {} })
    expect(outside.status).toBe(403)
    // A sibling whose name starts like the root is outside it too.
    const sibling = await sourceFile({ root: join(dir, 'pub') }).source.fetch({ url, headers: {} })
    expect(sibling.status).toBe(403)
    // A symlink under root that points outside is outside; one that points inside is served.
    await symlink(join(dir, 'secret'), join(dir, 'public', 'out'))
    await symlink(join(dir, 'public', 'blob'), join(dir, 'public', 'in'))
    expect((await source.fetch({ url: pathToFileURL(join(dir, 'public', 'out')).href, headers: {} })).status).toBe(403)
    expect((await source.fetch({ url: pathToFileURL(join(dir, 'public', 'in')).href, headers: {}, method: 'HEAD' })).status).toBe(200)
  })

  it('refuses misspelt and mistyped options', () => {
    expect(optionError(() => sourceFile({ rootDir: '/srv' } as never))).toMatch(/^source-file: unknown option `rootDir`; known: root, chunkSize/)
    expect(optionError(() => sourceFile({ chunksize: 4096 } as never))).toMatch(/unknown option `chunksize` \(did you mean `chunkSize`\?\)/)
    expect(optionError(() => sourceFile({ chunkSize: 0 }))).toBe('source-file: option `chunkSize` must be at least 1, got 0')
    expect(optionError(() => sourceFile({ root: 42 } as never))).toBe('source-file: option `root` must be a string, got 42')
  })
})
