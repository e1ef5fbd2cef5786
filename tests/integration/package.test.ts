import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { dirname, join, normalize } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, expect, it } from 'vitest'
import { BUNDLED } from '../../build.config.ts'
import { tempDir } from '../helpers/cli.ts'

const run = promisify(execFile)
const ROOT = join(import.meta.dirname, '../..')

interface Manifest {
  scripts: Record<string, string>
  dependencies: Record<string, string>
  files: string[]
}

let packed: string[]
let tarball: string
let manifest: Manifest
beforeAll(async () => {
  manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Manifest
  const dest = await tempDir('df-pack-')
  // dist/ is built by the test run's global setup; --ignore-scripts skips prepack's second build.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], { cwd: ROOT })
  const [info] = JSON.parse(stdout) as { filename: string; files: { path: string }[] }[]
  packed = info!.files.map((f) => f.path)
  tarball = join(dest, info!.filename)
}, 120_000)

it('installs without building, and declares no dependency that is bundled or unused', async () => {
  expect(manifest.scripts).not.toHaveProperty('prepare')
  expect(manifest.scripts).not.toHaveProperty('install')
  expect(manifest.scripts).not.toHaveProperty('postinstall')
  const declared = Object.keys(manifest.dependencies)
  expect(declared.filter((name) => BUNDLED.includes(name))).toEqual([])
  const dist = (await Promise.all(packed.filter((p) => p.startsWith('dist/')).map((p) => readFile(join(ROOT, p), 'utf8')))).join('\n')
  const imported = (name: string): boolean => new RegExp(`(from |import\\()['"]${name.replace('/', '\\/')}(/[^'"]*)?['"]`).test(dist)
  expect(declared.filter((name) => !imported(name))).toEqual([])
  expect(imported('c12')).toBe(true) // control: the check finds a real import
})

it('carries the docs its README and docs/ link to', async () => {
  expect(packed).toContain('README.md')
  expect(packed).toContain('docs/runtimes.md')
  const dead: string[] = []
  for (const page of packed.filter((p) => p === 'README.md' || p.startsWith('docs/'))) {
    if (!page.endsWith('.md')) continue
    const text = await readFile(join(ROOT, page), 'utf8')
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g) as Iterable<[string, string]>) {
      if (/^[a-z]+:/.test(target)) continue
      const path = normalize(join(dirname(page), target)).replace(/\/$/, '')
      if (!packed.includes(path) && !packed.some((p) => p.startsWith(`${path}/`))) dead.push(`${page} → ${target}`)
    }
  }
  expect(dead).toEqual([])
})

it('npm pack, install into an empty folder, npx dragonfly demo --peers 3 --size 16', async () => {
  const dir = await tempDir('df-install-')
  await run('npm', ['init', '-y'], { cwd: dir })
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: dir })
  const { stdout, stderr } = await run('npx', ['--no-install', 'dragonfly', 'demo', '--peers', '3', '--size', '16', '--json'], { cwd: dir })
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as { identical: boolean; peers: number; bytes: number }
  expect(report).toMatchObject({ identical: true, peers: 3, bytes: 16 * 1024 * 1024 })
  expect(stderr).not.toMatch(/warn/i)
}, 300_000)
