import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { createSourceGuard } from '../../core/source/source-guard.ts'
import { nodeGuardedFetch } from '../../runtime/node-guarded-fetch.ts'
import { resolvingFetch } from '../../runtime/resolving-fetch.ts'
import { killAll, randomFile, type SupernodeProcess, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'
import { connectStatus, proxyGet } from '../helpers/proxy-client.ts'
import { useTestServers } from '../helpers/test-servers.ts'

const corpus = JSON.parse(await readFile(resolve(import.meta.dirname, '../corpus/hostile-sources.json'), 'utf8')) as {
  ssrf: { name: string; url: string }[]
}
const { servers } = useTestServers()

describe('the guard checks the address it connects to, not the name', () => {
  it.each([
    ['node (undici lookup)', nodeGuardedFetch],
    ['bun and deno (resolve, check, fetch)', resolvingFetch],
  ] as const)(
    '%s: a name that resolves into a denied range is refused before any connection; the same name passes without the deny',
    async (_name, connect) => {
      let connections = 0
      const server = createServer((_req, res) => res.end('secret'))
      server.on('connection', () => connections++)
      servers.push(server)
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
      const url = `http://localhost:${(server.address() as AddressInfo).port}/`
      const strict = createSourceGuard({ deny: ['127.0.0.0/8', '::1'], connect })
      expect(() => strict(url)).not.toThrow() // the name alone says nothing
      const refusal = await strict.fetch(url).then(
        () => null,
        (error: Error & { code?: string; cause?: { code?: string } }) => error.code ?? error.cause?.code,
      )
      expect(refusal).toBe('E_FORBIDDEN')
      expect(connections).toBe(0)
      const open = createSourceGuard({ connect })
      expect(await (await open.fetch(url)).text()).toBe('secret')
      expect(connections).toBe(1)
    },
  )
})

describe('SSRF: every URL of the corpus is refused by the supernode, the daemon proxy and the mirror', () => {
  let dir: string
  let origin: Origin
  let supernode: SupernodeProcess
  let strictDaemon: SupernodeProcess
  let openDaemon: SupernodeProcess
  let local: string

  beforeAll(async () => {
    dir = await tempDir('df-ssrf-')
    origin = await startOrigin(await randomFile(dir, 64 * 1024))
    local = origin.url('/file').replace('127.0.0.1', 'localhost')
    supernode = await startSupernode(join(dir, 'sn'))
    const config = join(dir, 'strict.json')
    await writeFile(config, JSON.stringify({ daemon: { denySources: ['127.0.0.0/8', '::1'] } }))
    ;[strictDaemon, openDaemon] = await Promise.all([
      startDaemon(join(dir, 'strict'), supernode.url, ['--config', config]),
      startDaemon(join(dir, 'open'), supernode.url),
    ])
  }, 60_000)
  afterAll(async () => {
    killAll()
    await origin?.close()
  })

  it('supernode: register and preheat answer 403 E_FORBIDDEN; an ordinary source registers', async () => {
    const register = (url: string) =>
      fetch(`${supernode.url}${SUPERNODE_ROUTES.register}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url, peer: { address: 'http://127.0.0.1:1' } }),
      })
    for (const c of corpus.ssrf) {
      for (const r of [
        await register(c.url),
        await fetch(`${supernode.url}${SUPERNODE_ROUTES.preheat}`, {
          method: 'POST',
          body: JSON.stringify({ url: c.url }),
          headers: { 'content-type': 'application/json' },
        }),
      ]) {
        expect(r.status, c.name).toBe(403)
        expect(((await r.json()) as { error: { code: string } }).error.code, c.name).toBe('E_FORBIDDEN')
      }
    }
    const ok = await register(local)
    expect(ok.status, await ok.clone().text()).toBe(200)
  })

  it('daemon forward proxy: GET and CONNECT to the corpus are refused; the open daemon passes a GET by name', async () => {
    for (const c of corpus.ssrf) {
      const r = await proxyGet(strictDaemon.url, c.url)
      expect(r.status, c.name).toBe(403)
      expect(JSON.parse(r.body.toString()).error.code, c.name).toBe('E_FORBIDDEN')
      const u = new URL(c.url)
      expect(await connectStatus(strictDaemon.url, `${u.hostname}:80`), c.name).toMatch(/^HTTP\/1\.1 403/)
    }
    const before = origin.requests.length
    // localhost is not denied by name: only where it resolves to is.
    expect((await proxyGet(strictDaemon.url, local)).status).toBe(403)
    expect(await connectStatus(strictDaemon.url, new URL(local).host)).toMatch(/^HTTP\/1\.1 403/)
    // Read one way by the guard's URL parser (host `x`), another by the resolver: refused as malformed.
    expect(await connectStatus(strictDaemon.url, `x?.${new URL(local).host}`)).toMatch(/^HTTP\/1\.1 400/)
    expect(origin.requests.length).toBe(before)
    const passed = await proxyGet(openDaemon.url, local)
    expect(passed.status).toBe(200)
    expect(passed.body.length).toBe(64 * 1024)
    expect(await connectStatus(openDaemon.url, new URL(local).host)).toMatch(/^HTTP\/1\.1 200/)
  })

  it('registry mirror: ?ns= and the path form naming a corpus host are refused with DENIED', async () => {
    for (const c of corpus.ssrf) {
      const host = new URL(c.url).host
      for (const path of [`/v2/library/x/manifests/latest?ns=${encodeURIComponent(host)}`, `/v2/${host}/library/x/manifests/latest`]) {
        const r = await fetch(`${strictDaemon.url}${path}`)
        const body = (await r.json()) as { errors: { code: string; detail?: { dragonfly?: string } }[] }
        // The path form takes only what looks like a registry host; anything else names no upstream (404).
        if (path.includes('?ns=') || r.status !== 404) {
          expect(r.status, `${c.name}: ${path}`).toBe(403)
          expect(body.errors[0]?.detail?.dragonfly, `${c.name}: ${path}`).toBe('E_FORBIDDEN')
        } else expect(body.errors[0]?.code).toBe('NAME_UNKNOWN')
      }
    }
    const ns = `/v2/library/x/manifests/latest?ns=${encodeURIComponent(new URL(local).host)}`
    const refused = await fetch(`${strictDaemon.url}${ns}`)
    expect(refused.status).toBe(403)
    // The open daemon reaches the same upstream (the origin answers 404 for a path it does not serve).
    expect((await fetch(`${openDaemon.url}${ns}`)).status).toBe(404)
  })
})
