import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPluginSet } from '../../core/plugin.ts'
import { createSupernode, type Supernode } from '../../core/supernode.ts'
import sourceHttp from '../../plugins/source-http/index.ts'
import storageFs from '../../plugins/storage-fs/index.ts'
import { createSha256 } from '../../runtime/node-hash.ts'
import { dragonfly, killAll, parseJsonLine, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { randomFile } from '../helpers/cli.ts'

const TASK = 'a'.repeat(64)
const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })

describe('supernode API refuses bad requests with a code', () => {
  let supernode: Supernode
  beforeAll(async () => {
    const plugins = createPluginSet([storageFs(), sourceHttp()])
    supernode = createSupernode({ plugins, storage: plugins.storage({ home: await tempDir(), namespace: 'cdn' }), createHash: createSha256 })
  })
  afterAll(() => supernode.close())

  const cases: [string, string, RequestInit | undefined, number, string][] = [
    ['invalid JSON', '/api/v1/tasks/register', json('{nope'), 400, 'E_BAD_REQUEST'],
    ['wrong content type', '/api/v1/tasks/register', { method: 'POST', body: 'x' }, 415, 'E_UNSUPPORTED_MEDIA_TYPE'],
    ['missing url', '/api/v1/tasks/register', json({ peer: { address: 'http://h:1' } }), 400, 'E_BAD_REQUEST'],
    ['bad peer address', '/api/v1/tasks/register', json({ url: 'http://h/x', peer: { address: 'file:///etc/passwd' } }), 400, 'E_BAD_REQUEST'],
    ['unknown scheme', '/api/v1/tasks/register', json({ url: 'ftp://h/x', peer: { address: 'http://h:1' } }), 400, 'E_UNSUPPORTED_SCHEME'],
    ['oversized body', '/api/v1/tasks/register', json({ url: 'x'.repeat(5 * 1024 * 1024) }), 413, 'E_PAYLOAD_TOO_LARGE'],
    ['unknown task pull', `/api/v1/tasks/${TASK}/pull`, json({ peerId: crypto.randomUUID() }), 404, 'E_UNKNOWN_TASK'],
    ['traversal in task id', '/api/v1/tasks/..%2F..%2Fetc/pull', json({ peerId: crypto.randomUUID() }), 400, 'E_BAD_REQUEST'],
    ['traversal in piece path', '/pieces/..%2F..%2Fetc%2Fpasswd/0', undefined, 400, 'E_BAD_REQUEST'],
    ['negative piece', `/pieces/${TASK}/-1`, undefined, 400, 'E_BAD_REQUEST'],
    ['huge piece', `/pieces/${TASK}/99999999999999`, undefined, 400, 'E_BAD_REQUEST'],
    ['unknown task piece', `/pieces/${TASK}/0`, undefined, 404, 'E_UNKNOWN_TASK'],
    ['unknown endpoint', '/api/v1/nope', undefined, 404, 'E_NOT_FOUND'],
    ['cloud metadata source (SSRF)', '/api/v1/tasks/register', json({ url: 'http://169.254.169.254/latest/meta-data/', peer: { address: 'http://h:1' } }), 403, 'E_FORBIDDEN'],
  ]
  it.each(cases)('%s', async (_name, path, init, status, code) => {
    const res = await supernode.app.request(path, init)
    expect(res.status).toBe(status)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code)
  })
})

describe('get fails clearly and leaves no file', () => {
  afterAll(() => killAll())
  it.each([
    ['unknown scheme', 'ftp://127.0.0.1/file', 'E_UNSUPPORTED_SCHEME'],
    ['unreachable source', 'http://127.0.0.1:1/file', 'E_SOURCE_UNREACHABLE'],
    ['not a URL', 'not-a-url', 'E_BAD_ARGUMENT'],
  ])('%s', async (_name, url, code) => {
    const dir = await tempDir()
    const run = dragonfly(['get', url, '-o', join(dir, 'out'), '--home', join(dir, 'h'), '--json'])
    expect(await run.done).not.toBe(0)
    expect(parseJsonLine<{ error: { code: string } }>(run.stdout).error.code).toBe(code)
    expect(existsSync(join(dir, 'out'))).toBe(false)
  })

  it('404 from the source, through a supernode', async () => {
    const dir = await tempDir()
    const origin = await startOrigin(await randomFile(dir, 1024))
    const { startSupernode } = await import('../helpers/cli.ts')
    const sn = await startSupernode(join(dir, 'sn'))
    try {
      const run = dragonfly(['get', origin.url('/missing'), '-o', join(dir, 'out'), '--supernode', sn.url, '--home', join(dir, 'h'), '--json'])
      expect(await run.done).toBe(6)
      expect(parseJsonLine<{ error: { code: string; message: string } }>(run.stdout).error).toMatchObject({ code: 'E_SOURCE_STATUS' })
      expect(existsSync(join(dir, 'out'))).toBe(false)
    } finally {
      await sn.stop()
      await origin.close()
    }
  })

  it('a bad header or digest argument', async () => {
    const dir = await tempDir()
    for (const args of [['-H', 'no colon'], ['--digest', 'md5:123']]) {
      const run = dragonfly(['get', 'http://127.0.0.1:1/x', '-o', join(dir, 'out'), '--json', ...args])
      expect(await run.done).toBe(2)
      expect(parseJsonLine<{ error: { code: string } }>(run.stdout).error.code).toBe('E_BAD_ARGUMENT')
    }
  })
})
