import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { findCycles, type ImportEdge, importGraph, importsOf, lineOf, sourceFiles, strip } from './helpers/import-graph.ts'

// core/ must run unchanged on Node, Bun and Deno: it reaches the outside only
// through Web APIs and injected capabilities, so it may import only these
// packages (by exact name; each is a direct dependency, see below).
const CORE_PACKAGES = ['hono', 'ofetch', 'valibot', 'lru-cache']
/** hono's subpaths that are one runtime's adapter: they belong in runtime/. Its other subpaths are Web-standard. */
const HONO_ADAPTERS = ['bun', 'deno', 'aws-lambda', 'cloudflare-workers', 'cloudflare-pages', 'lambda-edge', 'netlify', 'vercel', 'service-worker', 'adapter']

function allowedInCore(spec: string): boolean {
  if (CORE_PACKAGES.includes(spec)) return true
  const sub = /^hono\/([\w./-]+)$/.exec(spec)?.[1]
  return sub !== undefined && !HONO_ADAPTERS.some((a) => sub === a || sub.startsWith(`${a}/`))
}
const RUNTIME_GLOBALS = ['Bun', 'Deno', 'process', 'Buffer', 'require', '__dirname', '__filename', 'global']

const CORE = resolve(import.meta.dirname, '../core')

interface Violation {
  file: string
  line: number
  what: string
}

/** What `file` (a path inside core/) does that core may not: imports outside the allow-list, runtime globals. */
function findCoreViolations(file: string, source: string): Violation[] {
  const violations: Violation[] = []
  for (const { spec, to, line } of importsOf(file, source)) {
    if (to !== undefined) {
      if (!to.startsWith('core/')) violations.push({ file, line, what: `relative import leaves core/: '${spec}'` })
      else if (!spec.endsWith('.ts')) violations.push({ file, line, what: `relative import without .ts extension: '${spec}'` })
    } else if (!allowedInCore(spec)) {
      violations.push({ file, line, what: `import of '${spec}' (allowed: relative core files, ${CORE_PACKAGES.join(', ')}, hono/* but its runtime adapters)` })
    }
  }
  const bare = strip(source, true)
  // An import whose name is computed cannot be checked: core may not have one.
  for (const m of bare.matchAll(/(?<![.\w$])(?:import|require)\s*\(\s*(?![\s'"`)])/g)) {
    violations.push({ file, line: lineOf(bare, m.index), what: 'import of a computed specifier' })
  }
  // Comments to the code, but not to TypeScript: `/// <reference types="node" />` would hand core Node's types.
  for (const m of source.matchAll(/^[ \t]*\/\/\/[ \t]*<reference\s+(?:types|path)\s*=\s*(['"])([^'"]*)\1/gm)) {
    violations.push({ file, line: lineOf(source, m.index), what: `triple-slash reference to '${m[2]}'` })
  }
  const globals = new RegExp(`(?<![.\\w$])(${RUNTIME_GLOBALS.join('|')})(?![\\w$])(?!\\s*:)`, 'g')
  for (const m of bare.matchAll(globals)) {
    violations.push({ file, line: lineOf(bare, m.index), what: `runtime global '${m[1]}'` })
  }
  const code = strip(source, false)
  const viaGlobalThis = new RegExp(`globalThis\\s*(?:\\?\\.|\\.|\\[\\s*['"\`])\\s*(${RUNTIME_GLOBALS.join('|')})\\b`, 'g')
  for (const m of code.matchAll(viaGlobalThis)) {
    violations.push({ file, line: lineOf(code, m.index), what: `runtime global 'globalThis.${m[1]}'` })
  }
  return violations
}

/** Every file in core/: all of them are checked, so a .js or .mjs file cannot slip past as "not TypeScript". */
function coreFiles(): string[] {
  return (readdirSync(CORE, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
}

const ROOT = resolve(import.meta.dirname, '..')
const ROLES = ['core/supernode/', 'core/peer/', 'core/daemon/', 'core/cluster/']
/** Shared by every role: these folders, and the files directly in core/ (errors, metrics, option values) but the public index. */
const SHARED = [
  'core/contract/',
  'core/protocol/',
  'core/transfer/',
  'core/source/',
  'core/cache/',
  ...readdirSync(CORE)
    .filter((name) => name.endsWith('.ts') && name !== 'index.ts')
    .map((name) => `core/${name}`),
]
/** The plugin contract: what plugins/, runtime/ and testing/ may see of core. */
const CONTRACT = ['core/contract/', 'core/errors.ts']

/** Import directions: a file under `from` may not import a file under any of `not`. */
const DIRECTIONS: readonly { from: readonly string[]; not: readonly string[]; why: string }[] = [
  { from: ['core/peer/'], not: ['core/supernode/', 'core/cluster/', 'core/daemon/'], why: 'the peer knows the supernode only through core/protocol/' },
  { from: ['core/supernode/'], not: ['core/peer/', 'core/daemon/'], why: 'the supernode never runs peer or daemon code' },
  { from: ['core/cluster/'], not: ['core/peer/', 'core/daemon/'], why: 'the cluster joins supernodes, not peers' },
  { from: SHARED, not: ROLES, why: 'shared parts serve every role and depend on none' },
  {
    from: ['plugins/', 'runtime/', 'testing/'],
    not: ['core/', 'cli/', 'config/'],
    why: 'plugins, runtimes and the kit see core only through the plugin contract',
  },
]

const under = (file: string, prefixes: readonly string[]) => prefixes.some((p) => file === p || file.startsWith(p))

/** Imports that break a direction, and re-exports outside index files (a hub must not lend its helpers' names). */
function findDirectionViolations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = []
  for (const e of edges) {
    if (e.to === undefined) continue
    if (e.reexport && !e.from.endsWith('/index.ts')) out.push(`${e.from}:${e.line} re-exports '${e.spec}': import it from the file that defines it`)
    for (const rule of DIRECTIONS) {
      if (!under(e.from, rule.from) || !under(e.to, rule.not)) continue
      if (under(e.to, CONTRACT) && !under(e.from, ['core/'])) continue
      out.push(`${e.from}:${e.line} imports ${e.to} (${rule.why})`)
    }
  }
  return out
}

const LAYERS = ['core', 'plugins', 'runtime', 'testing', 'config', 'cli']

describe('architecture: import directions and circles', () => {
  const graph = importGraph(ROOT, sourceFiles(ROOT, LAYERS))
  const edges = [...graph.values()].flat()

  it('every import follows the directions, and only index files re-export', () => {
    expect(edges.length).toBeGreaterThan(200)
    expect(findDirectionViolations(edges)).toEqual([])
  })

  it('nothing imports in a circle', () => {
    expect(findCycles(graph)).toEqual([])
  })

  const edge = (from: string, to: string, reexport = false): ImportEdge => ({ from, to, spec: to, line: 1, reexport })
  it.each([
    [edge('core/peer/peer.ts', 'core/supernode/scheduler/scheduler.ts'), 'the peer knows'],
    [edge('core/peer/swarm-download.ts', 'core/cluster/cluster.ts'), 'the peer knows'],
    [edge('core/supernode/app.ts', 'core/peer/peer.ts'), 'never runs peer'],
    [edge('core/supernode/cdn/cdn.ts', 'core/daemon/app.ts'), 'never runs peer'],
    [edge('core/protocol/task-id.ts', 'core/supernode/cdn/cdn.ts'), 'shared parts'],
    [edge('core/transfer/piece-fetch.ts', 'core/peer/peer.ts'), 'shared parts'],
    [edge('plugins/compress/index.ts', 'core/protocol/piece-coding.ts'), 'plugin contract'],
    [edge('runtime/node.ts', 'core/transfer/piece-server.ts'), 'plugin contract'],
    [edge('testing/index.ts', 'config/index.ts'), 'plugin contract'],
    [edge('core/supernode/cdn/cdn.ts', 'core/supernode/cdn/cdn-task.ts', true), 're-exports'],
  ])('the direction check rejects %j', (bad, expected) => {
    expect(findDirectionViolations([bad]).join('\n')).toContain(expected)
  })

  it('the direction check accepts the allowed arrows', () => {
    const good = [
      edge('core/peer/peer.ts', 'core/protocol/api-schema.ts'),
      edge('core/daemon/app.ts', 'core/peer/peer.ts'),
      edge('core/supernode/supernode.ts', 'core/cluster/cluster.ts'),
      edge('plugins/compress/index.ts', 'core/contract/plugin.ts'),
      edge('runtime/node.ts', 'core/errors.ts'),
      edge('core/index.ts', 'core/peer/peer.ts', true),
    ]
    expect(findDirectionViolations(good)).toEqual([])
  })

  it('the circle finder finds circles of any length and ignores shared targets', () => {
    const g = new Map([
      ['a', [{ to: 'b' }]],
      ['b', [{ to: 'c' }]],
      ['c', [{ to: 'a' }, { to: 'd' }]],
      ['d', []],
      ['e', [{ to: 'e' }]],
      ['f', [{ to: 'd' }]],
    ])
    expect(findCycles(g)).toEqual([['a', 'b', 'c'], ['e']])
    expect(
      findCycles(
        new Map([
          ['x', [{ to: 'y' }]],
          ['y', []],
        ]),
      ),
    ).toEqual([])
  })
})

/** What `file` (a path inside testing/) imports beyond the plugin contract, core/errors.ts and its own files. */
function findTestingViolations(file: string, source: string): Violation[] {
  const violations: Violation[] = []
  for (const { spec, to, line } of importsOf(file, source)) {
    const allowed = to !== undefined && spec.endsWith('.ts') && (to.startsWith('core/contract/') || to === 'core/errors.ts' || to.startsWith('testing/'))
    if (!allowed) violations.push({ file, line, what: `import of '${spec}' (testing/ may import core/contract/, core/errors.ts and testing/ only)` })
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
    expect(
      findTestingViolations('testing/fabricated.ts', source)
        .map((v) => v.what)
        .join('\n'),
    ).toContain(expected)
  })
})

describe('architecture: core/ is runtime-agnostic', () => {
  it(`imports only relative core files and ${CORE_PACKAGES.join(', ')}, and no runtime globals`, () => {
    const files = coreFiles()
    expect(files.length).toBeGreaterThan(10)
    expect(files.filter((path) => !path.endsWith('.ts')).map((path) => relative(ROOT, path))).toEqual([])
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
    ["import { serveStatic } from 'hono/bun'", "'hono/bun'"],
    ["import { getConnInfo } from 'hono/deno'", "'hono/deno'"],
    ["import { handle } from 'hono/aws-lambda'", "'hono/aws-lambda'"],
    ["import { LRUCache } from 'lru-cache/raw'", "'lru-cache/raw'"],
    ["import { toJsonSchema } from '@valibot/to-json-schema'", "'@valibot/to-json-schema'"],
    ["import { defu } from 'defu'", "'defu'"],
    ['const m = await import(name)', 'computed specifier'],
    ["const m = require(dir + '/x')", 'computed specifier'],
    ['/// <reference types="node" />', "reference to 'node'"],
    ["/// <reference path='../runtime/node.d.ts' />", 'triple-slash reference'],
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
      "import { LRUCache } from 'lru-cache'",
      "import { HTTPException } from 'hono/http-exception'",
      "const { x } = await import('./lazy.ts')",
      '/// <reference lib="dom" />',
      "import { createError } from './errors.ts'",
      "export * from './swarm.ts'",
      "import { x } from './sub/../piece-layout.ts'",
      '// Runs on Bun and Deno too; never import node:fs here.',
      '/* process.env is read by the CLI, not by core */',
      "const hint = 'use Bun.serve or node:http in runtime/'",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: source text the checker reads
      'const msg = `Deno.serve in ${where}`',
      'const stats = { process: 1, global: 2 }',
      'stats.process += 1',
      "const url = 'http://127.0.0.1/x' // from 'node:url'",
    ].join('\n')
    expect(findCoreViolations('core/fabricated.ts', source)).toEqual([])
  })

  it('each package core may import is a direct dependency of this package (not one that another happens to pull in)', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>
    const direct = { ...manifest.dependencies, ...manifest.devDependencies }
    expect(CORE_PACKAGES.filter((name) => !(name in direct))).toEqual([])
    expect('unstorage' in direct && !CORE_PACKAGES.includes('unstorage')).toBe(true) // control: a dependency core may not import
  })
})

// One wire contract: route paths live in core/protocol/routes.ts; servers mount and clients call the same constants.
const WIRE_ROOTS = ['core', 'cli', 'runtime', 'plugins', 'testing', 'config', 'bench']
const PROTOCOL = 'core/protocol/'

/** Lines of `source` (comments removed) that spell an `/api/v1` path themselves. */
function findApiPaths(file: string, source: string): Violation[] {
  const code = strip(source, false)
  return [...code.matchAll(/\/api\/v1\b/g)].map((m) => ({
    file,
    line: lineOf(code, m.index),
    what: 'route path written out: import it from core/protocol/routes.ts',
  }))
}

describe('architecture: one wire contract', () => {
  it('no file outside core/protocol/ writes out an /api/v1 path', () => {
    const root = resolve(import.meta.dirname, '..')
    const files = WIRE_ROOTS.flatMap((dir) =>
      (readdirSync(join(root, dir), { recursive: true }) as string[])
        .filter((name) => /\.(ts|mts|js|mjs)$/.test(name) && !name.split(/[\\/]/).includes('node_modules'))
        .map((name) => `${dir}/${name.split('\\').join('/')}`),
    )
    expect(files.filter((f) => f.startsWith(PROTOCOL)).length).toBeGreaterThan(0)
    const violations = files.filter((f) => !f.startsWith(PROTOCOL)).flatMap((file) => findApiPaths(file, readFileSync(join(root, file), 'utf8')))
    expect(violations.map((v) => `${v.file}:${v.line} ${v.what}`)).toEqual([])
  })

  it.each([
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source text the checker reads
    ['await fetch(`${base}/api/v1/tasks`)'],
    ["app.get('/api/v1/status', handler)"],
    ['const API = "/api/v1"'],
    ["get('/api/v1/tasks/' + id + '/pieces')"],
  ])('the checker finds %j', (source) => {
    expect(findApiPaths('cli/fabricated.ts', source)).toHaveLength(1)
  })

  it('the checker ignores comments and other paths', () => {
    const source = [
      '// the peer API, under /api/v1',
      '/** `GET /api/v1/supernodes` */',
      'app.get(SUPERNODE_ROUTES.status, handler)',
      "const probe = '/healthz'",
      "const api = '/api/v10'",
    ].join('\n')
    expect(findApiPaths('cli/fabricated.ts', source)).toEqual([])
  })
})
