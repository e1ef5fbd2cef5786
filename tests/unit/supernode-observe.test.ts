import { describe, expect, it } from 'vitest'
import { createPluginSet } from '../../core/contract/plugin.ts'
import { createSupernode } from '../../core/supernode/supernode.ts'
import sourceHttp from '../../plugins/source-http/index.ts'
import storageFs from '../../plugins/storage-fs/index.ts'
import { createSha256 } from '../../runtime/node-hash.ts'
import { tempDir } from '../helpers/cli.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'

const post = (body: unknown, type = 'application/json') => ({ method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) })

describe('supernode observability endpoints (no socket)', () => {
  const make = async () => {
    const plugins = createPluginSet([storageFs(), sourceHttp()])
    return createSupernode({ plugins, storage: plugins.storage({ home: await tempDir(), namespace: 'cdn' }), createHash: createSha256 })
  }

  it('serves the dashboard, metrics with every dragonfly_ family, status; readyz turns 503 on shutdown', async () => {
    const sn = await make()
    const page = await sn.app.request('/')
    expect(page.headers.get('content-type')).toMatch(/^text\/html/)
    expect(await page.text()).toContain('/api/v1/tasks/')
    const m = parsePromText(await (await sn.app.request('/metrics')).text())
    for (const name of [
      'dragonfly_source_bytes_total',
      'dragonfly_piece_bytes_total',
      'dragonfly_peers',
      'dragonfly_tasks',
      'dragonfly_schedule_duration_seconds',
      'dragonfly_back_to_source_total',
      'dragonfly_isolated_peers',
    ]) {
      expect(m.has(name), name).toBe(true)
    }
    expect(sampleValue(m, 'dragonfly_piece_bytes_total', { from: 'peer' })).toBe(0)
    expect(await (await sn.app.request('/api/v1/status')).json()).toMatchObject({ ready: true, tasks: { total: 0 }, peers: 0, bytesFromSource: 0 })
    expect((await sn.app.request('/readyz')).status).toBe(200)
    await sn.close()
    const after = await sn.app.request('/readyz')
    expect(after.status).toBe(503)
    expect(((await after.json()) as { error: { code: string } }).error.code).toBe('E_NOT_READY')
    expect((await sn.app.request('/healthz')).status).toBe(200)
  })

  it('refuses bad preheat, report and webhook bodies with codes; ignores non-push webhook events', async () => {
    const sn = await make()
    const cases: [string, RequestInit, number, string][] = [
      ['/api/v1/preheat', post({ headers: {} }), 400, 'E_BAD_REQUEST'],
      ['/api/v1/preheat', post({ url: 'ftp://x/y' }), 400, 'E_UNSUPPORTED_SCHEME'],
      ['/api/v1/reports/back-to-source', post({ url: 'http://x/y', bytes: -1 }), 400, 'E_BAD_REQUEST'],
      ['/api/v1/webhooks/registry', post({ events: 'nope' }, 'application/vnd.docker.distribution.events.v1+json'), 400, 'E_BAD_REQUEST'],
      ['/api/v1/webhooks/registry', post({ events: [] }, 'text/plain'), 415, 'E_UNSUPPORTED_MEDIA_TYPE'],
      [`/api/v1/preheat/${'a'.repeat(64)}`, {}, 404, 'E_UNKNOWN_TASK'],
      ['/api/v1/preheat/nope', {}, 400, 'E_BAD_REQUEST'],
      [`/api/v1/tasks/${'a'.repeat(64)}/pieces`, {}, 404, 'E_UNKNOWN_TASK'],
    ]
    for (const [path, init, status, code] of cases) {
      const res = await sn.app.request(path, init)
      expect([path, res.status]).toEqual([path, status])
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code)
    }
    const pull = { action: 'pull', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', url: 'http://127.0.0.1:1/v2/a/manifests/x' } }
    const res = await sn.app.request('/api/v1/webhooks/registry', post({ events: [pull] }, 'application/vnd.docker.distribution.events.v1+json'))
    expect(await res.json()).toEqual({ accepted: 0 })
    await sn.close()
  })

  it('the webhook obeys the source guard: a push naming a metadata host is refused, not fetched', async () => {
    const plugins = createPluginSet([storageFs(), sourceHttp()])
    const failed: { url: string; code: string }[] = []
    const sn = createSupernode({
      plugins,
      storage: plugins.storage({ home: await tempDir(), namespace: 'cdn' }),
      createHash: createSha256,
      events: { taskFailed: (t, error) => failed.push({ url: t.url, code: error.code }) },
    })
    const url = `http://169.254.169.254/v2/a/manifests/sha256:${'0'.repeat(64)}`
    const push = { action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', url } }
    const res = await sn.app.request('/api/v1/webhooks/registry', post({ events: [push] }, 'application/vnd.docker.distribution.events.v1+json'))
    expect(await res.json()).toEqual({ accepted: 1 })
    await expect.poll(() => failed).toEqual([{ url, code: 'E_FORBIDDEN' }])
    await sn.close()
  })
})
