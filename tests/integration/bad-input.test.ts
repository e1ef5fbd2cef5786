import { existsSync } from 'node:fs'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, type SupernodeProcess, startSupernode, tempDir } from '../helpers/cli.ts'
import { type HostileBehaviour, startHostileOrigin } from '../helpers/hostile-origin.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'

// The bad-input corpus lives in tests/corpus/*.json: add a case there, not here.
const corpus = async <T>(name: string): Promise<T[]> =>
  (JSON.parse(await readFile(join(import.meta.dirname, '../corpus', name), 'utf8')) as { cases: T[] }).cases

interface ApiCase {
  name: string
  method: string
  path: string
  contentType?: string
  body?: unknown
  chunked?: boolean
  /** Request headers (placeholders filled). */
  headers?: Record<string, string>
  status: number
  code?: string
}
interface CliCase {
  name: string
  args: string[]
  exit: number
  code: string
  noFile?: string
}
interface ConfigCase {
  name: string
  file: string
  content: string
  code: string
  says?: string[]
}
interface SourceCase {
  name: string
  behaviour: HostileBehaviour
  digest?: string
  direct?: string
  supernode?: string
}

const [apiCases, cliCases, configCases, sourceCases] = await Promise.all([
  corpus<ApiCase>('api-requests.json'),
  corpus<CliCase>('cli-args.json'),
  corpus<ConfigCase>('config-files.json'),
  corpus<SourceCase>('hostile-sources.json'),
])

let root: string
let sn: SupernodeProcess
let origin: Origin
const closers: (() => Promise<void>)[] = []
beforeAll(async () => {
  root = await tempDir()
  origin = await startOrigin(await randomFile(root, 300 * 1024))
  sn = await startSupernode(join(root, 'sn'))
}, 60_000)
afterAll(async () => {
  killAll()
  for (const c of closers.reverse()) await c()
  await origin.close()
})

/** Fills {task}, {peer}, {secret}, {other}, {origin} and {big:N} placeholders. */
function fill(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string') return value.replace(/\{big:(\d+)\}/g, (_, n) => 'x'.repeat(Number(n))).replace(/\{(\w+)\}/g, (m, k) => vars[k] ?? m)
  if (Array.isArray(value)) return value.map((v) => fill(v, vars))
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, vars)]))
  return value
}

describe('supernode API: every case in tests/corpus/api-requests.json gets its status and code', () => {
  const vars: Record<string, string> = {}
  beforeAll(async () => {
    const register = async () => {
      const res = await fetch(`${sn.url}${SUPERNODE_ROUTES.register}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: origin.url(), peer: { address: 'http://127.0.0.1:9' } }),
      })
      return (await res.json()) as { taskId: string; peerId: string; peerSecret: string }
    }
    const [body, other] = [await register(), await register()]
    vars.task = body.taskId
    vars.peer = body.peerId
    vars.secret = body.peerSecret
    vars.other = other.peerId
    vars.origin = origin.url()
  })
  afterAll(async () => {
    // The process stayed up through all of it and still does its job.
    expect((await fetch(`${sn.url}/healthz`)).status).toBe(200)
    expect(sn.run.child.exitCode).toBeNull()
  })

  it.each(apiCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const body = c.body === undefined ? undefined : typeof c.body === 'string' ? (fill(c.body, vars) as string) : JSON.stringify(fill(c.body, vars))
    // `chunked`: the body goes as a stream, so no Content-Length announces its size.
    const sent = body !== undefined && c.chunked ? new Blob([body]).stream() : body
    const headers = {
      ...(fill(c.headers ?? {}, vars) as Record<string, string>),
      ...(body !== undefined ? { 'content-type': c.contentType ?? 'application/json' } : {}),
    }
    const res = await fetch(`${sn.url}${fill(c.path, vars)}`, {
      method: c.method,
      headers,
      ...(body !== undefined ? { body: sent, duplex: 'half' } : {}),
    } as RequestInit)
    const text = await res.text()
    expect({ status: res.status, text: text.slice(0, 300) }).toMatchObject({ status: c.status })
    if (c.code) expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe(c.code)
    expect(text).not.toMatch(/\bat .+\.(ts|js|mjs):\d+/) // no stack traces
  })
})

describe('CLI: every case in tests/corpus/cli-args.json exits with its code and writes nothing', () => {
  it.each(cliCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = await tempDir()
    await writeFile(join(dir, 'source.bin'), 'not this one')
    const vars = { origin: origin.url(), dir }
    const run = dragonfly([...(fill(c.args, vars) as string[]), '--home', join(dir, 'home'), '--daemon', 'off', '--json'], { cwd: dir })
    expect(await run.done).toBe(c.exit)
    expect(parseJsonLine<{ error: { code: string } }>(run.stdout).error.code).toBe(c.code)
    expect(existsSync(join(dir, 'out'))).toBe(false)
    if (c.noFile) expect(existsSync(fill(c.noFile, vars) as string)).toBe(c.noFile.endsWith('source.bin'))
    // Nothing outside --home and -o: the working directory holds only what the test put there.
    expect((await readdir(dir)).filter((n) => n !== 'home' && n !== 'source.bin' && n !== 'missing')).toEqual([])
  })
})

describe('config files: every case in tests/corpus/config-files.json is refused with its code and file name', () => {
  it.each(configCases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = await tempDir()
    await writeFile(join(dir, c.file), c.content)
    const run = dragonfly(
      ['get', origin.url(), '-o', join(dir, 'out'), '--config', join(dir, c.file), '--home', join(dir, 'home'), '--daemon', 'off', '--json'],
      { cwd: dir },
    )
    expect(await run.done).toBe(9)
    const { error } = parseJsonLine<{ error: { code: string; message: string } }>(run.stdout)
    expect(error.code).toBe(c.code)
    expect(error.message).toContain(c.file)
    for (const words of c.says ?? []) expect(error.message).toContain(words)
    expect(error.message).not.toMatch(/Invalid (type|key|input)|Expected .* but received/)
    expect(existsSync(join(dir, 'out'))).toBe(false)
  })
})

describe('hostile sources: every case in tests/corpus/hostile-sources.json ends with its code', () => {
  const runs = sourceCases.flatMap((c) =>
    (['direct', 'supernode'] as const).filter((via) => c[via]).map((via) => [`${c.name} (${via})`, c, via, c[via]!] as const),
  )
  it.each(runs)(
    '%s',
    async (_name, c, via, expected) => {
      const dir = await tempDir()
      const hostile = await startHostileOrigin(c.behaviour)
      closers.push(() => hostile.close())
      const out = join(dir, 'out')
      const args = ['get', hostile.url, '-o', out, '--home', join(dir, 'home'), '--daemon', 'off', '--json', ...(c.digest ? ['--digest', c.digest] : [])]
      const run = dragonfly(via === 'supernode' ? [...args, '--supernode', sn.url, '--no-back-source'] : args, { cwd: dir })
      const exit = await run.done
      if (expected.startsWith('ok:')) {
        expect({ exit, stdout: run.stdout }).toMatchObject({ exit: 0 })
        expect((await stat(out)).size).toBe(Number(expected.slice(3)))
      } else {
        expect(exit).not.toBe(0)
        expect(parseJsonLine<{ error: { code: string } }>(run.stdout).error.code).toBe(expected)
        expect(existsSync(out)).toBe(false)
      }
      expect((await fetch(`${sn.url}/healthz`)).status).toBe(200)
    },
    60_000,
  )
})
