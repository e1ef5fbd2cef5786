import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, posix, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

// core/ must run unchanged on Node, Bun and Deno: it reaches the outside only
// through Web APIs and injected capabilities, so it may import only these.
const ALLOWED_PACKAGES = [/^hono$/, /^hono\/[\w./-]+$/, /^ofetch$/, /^valibot$/]
const RUNTIME_GLOBALS = ['Bun', 'Deno', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global']

const CORE = resolve(import.meta.dirname, '../core')

export interface Violation {
  file: string
  line: number
  what: string
}

/** Comments removed; with `blankStrings`, string and template contents become spaces (line breaks kept). */
function strip(source: string, blankStrings: boolean): string {
  let out = ''
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    const next = source[i + 1]
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      const stop = end === -1 ? source.length : end + 2
      out += source.slice(i, stop).replace(/[^\n]/g, ' ')
      i = stop
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1
      while (j < source.length && source[j] !== c) j += source[j] === '\\' ? 2 : 1
      const body = source.slice(i + 1, j)
      out += c + (blankStrings ? body.replace(/[^\n]/g, ' ') : body) + c
      i = j + 1
    } else {
      out += c
      i++
    }
  }
  return out
}

function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length
}

/** What `file` (a path inside core/) does that core may not: imports outside the allow-list, runtime globals. */
export function findCoreViolations(file: string, source: string): Violation[] {
  const violations: Violation[] = []
  const code = strip(source, false)
  const specifiers = /\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1|\bimport\s*(['"])([^'"]+)\3|\b(?:import|require)\s*\(\s*(['"`])([^'"`]+)\5/g
  for (const m of code.matchAll(specifiers)) {
    const spec = (m[2] ?? m[4] ?? m[6])!
    const line = lineOf(code, m.index)
    if (spec.startsWith('.')) {
      const target = posix.join(posix.dirname(file), spec)
      if (!target.startsWith('core/')) violations.push({ file, line, what: `relative import leaves core/: '${spec}'` })
      else if (!spec.endsWith('.ts')) violations.push({ file, line, what: `relative import without .ts extension: '${spec}'` })
    } else if (!ALLOWED_PACKAGES.some((re) => re.test(spec))) {
      violations.push({ file, line, what: `import of '${spec}' (allowed: relative core files, hono, hono/*, ofetch, valibot)` })
    }
  }
  const bare = strip(source, true)
  const globals = new RegExp(`(?<![.\\w$])(${RUNTIME_GLOBALS.join('|')})(?![\\w$])(?!\\s*:)`, 'g')
  for (const m of bare.matchAll(globals)) {
    violations.push({ file, line: lineOf(bare, m.index), what: `runtime global '${m[1]}'` })
  }
  const viaGlobalThis = new RegExp(`globalThis\\s*(?:\\?\\.|\\.|\\[\\s*['"\`])\\s*(${RUNTIME_GLOBALS.join('|')})\\b`, 'g')
  for (const m of code.matchAll(viaGlobalThis)) {
    violations.push({ file, line: lineOf(code, m.index), what: `runtime global 'globalThis.${m[1]}'` })
  }
  return violations
}

function coreFiles(): string[] {
  return (readdirSync(CORE, { recursive: true }) as string[])
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(CORE, name))
}

/** What `file` (a path inside testing/) imports beyond the plugin contract, core/errors.ts and its own files. */
export function findTestingViolations(file: string, source: string): Violation[] {
  const violations: Violation[] = []
  const code = strip(source, false)
  const specifiers = /\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1|\bimport\s*(['"])([^'"]+)\3|\b(?:import|require)\s*\(\s*(['"`])([^'"`]+)\5/g
  for (const m of code.matchAll(specifiers)) {
    const spec = (m[2] ?? m[4] ?? m[6])!
    const target = posix.join(posix.dirname(file), spec)
    const allowed = spec.startsWith('.') && spec.endsWith('.ts') && (target.startsWith('core/contract/') || target === 'core/errors.ts' || target.startsWith('testing/'))
    if (!allowed) violations.push({ file, line: lineOf(code, m.index), what: `import of '${spec}' (testing/ may import core/contract/, core/errors.ts and testing/ only)` })
  }
  return violations
}

describe('architecture: dragonfly/testing sees only the plugin contract', () => {
  it('testing/ imports only core/contract/, core/errors.ts and its own files', () => {
    const dir = resolve(import.meta.dirname, '../testing')
    const files = readdirSync(dir).filter((name) => name.endsWith('.ts'))
    expect(files.length).toBeGreaterThan(1)
    const violations = files.flatMap((name) => findTestingViolations(`testing/${name}`, readFileSync(join(dir, name), 'utf8')))
    expect(violations.map((v) => `${v.file}:${v.line} ${v.what}`)).toEqual([])
  })

  it.each([
    ["import { Swarm } from '../core/supernode/scheduler/swarm.ts'", 'core/supernode'],
    ["import { nodeRuntime } from '../runtime/node.ts'", 'runtime'],
    ["import { expect } from 'vitest'", 'vitest'],
    ["import storageFs from '../plugins/storage-fs/index.ts'", 'plugins'],
  ])('the checker rejects %j', (source, expected) => {
    expect(findTestingViolations('testing/fabricated.ts', source).map((v) => v.what).join('\n')).toContain(expected)
  })
})

describe('architecture: core/ is runtime-agnostic', () => {
  it('imports only relative core files, hono, ofetch and valibot, and no runtime globals', () => {
    const files = coreFiles()
    expect(files.length).toBeGreaterThan(10)
    const violations = files.flatMap((path) => {
      const file = relative(dirname(CORE), path).split('\\').join('/')
      return findCoreViolations(file, readFileSync(path, 'utf8'))
    })
    expect(violations.map((v) => `${v.file}:${v.line} ${v.what}`)).toEqual([])
  })

  it.each([
    ["import { readFile } from 'node:fs/promises'", "'node:fs/promises'"],
    ["import fs from 'fs'", "'fs'"],
    ['import "node:path"', "'node:path'"],
    ["import type { Server } from 'node:http'", "'node:http'"],
    ["export { consola } from 'consola'", "'consola'"],
    ["import {\n  serve,\n} from '@hono/node-server'", "'@hono/node-server'"],
    ["const m = await import('node:crypto')", "'node:crypto'"],
    ["const m = require('path')", "'path'"],
    ["import { nodeRuntime } from '../runtime/node.ts'", 'leaves core/'],
    ["import { swarm } from './swarm'", 'without .ts'],
    ["import { x } from 'hono-extra'", "'hono-extra'"],
    ['const server = Bun.serve({ fetch })', "'Bun'"],
    ["const home = Deno.env.get('HOME')", "'Deno'"],
    ['if (globalThis.Deno) run()', "'globalThis.Deno'"],
    ["const Bun = (globalThis as any)['Bun']", "'Bun'"],
    ['const cwd = process.cwd()', "'process'"],
    ["const b = Buffer.from('x')", "'Buffer'"],
  ])('the checker rejects %j', (source, expected) => {
    const violations = findCoreViolations('core/fabricated.ts', source)
    expect(violations.length).toBeGreaterThan(0)
    expect(violations.map((v) => v.what).join('\n')).toContain(expected)
  })

  it('the checker accepts what core may do, and ignores comments and strings', () => {
    const source = [
      "import { Hono } from 'hono'",
      "import type { Context } from 'hono'",
      "import { cors } from 'hono/cors'",
      "import { ofetch } from 'ofetch'",
      "import * as v from 'valibot'",
      "import { createError } from './errors.ts'",
      "export * from './swarm.ts'",
      "import { x } from './sub/../piece-layout.ts'",
      '// Runs on Bun and Deno too; never import node:fs here.',
      '/* process.env is read by the CLI, not by core */',
      "const hint = 'use Bun.serve or node:http in runtime/'",
      'const msg = `Deno.serve in ${where}`',
      'const stats = { process: 1, global: 2 }',
      'stats.process += 1',
      "const url = 'http://127.0.0.1/x' // from 'node:url'",
    ].join('\n')
    expect(findCoreViolations('core/fabricated.ts', source)).toEqual([])
  })
})
