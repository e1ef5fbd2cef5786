import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { dragonfly, killAll, parseJsonLine, type SupernodeProcess, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { blobBytesSent, blobGets, buildOciLayout, type OciImage, type Registry, skopeo, startRegistry } from '../helpers/registry.ts'
import { startTokenServer, type TokenServer } from '../helpers/token-server.ts'

const KiB = 1024

// docker-registry with token auth: every request needs a Bearer token that a token service of the test's own signs.
describe('a registry that really challenges: preheat --image and the daemon mirror', () => {
  let dir: string
  let tokens: TokenServer
  let registry: Registry
  let image: OciImage
  let supernode: SupernodeProcess
  let basic: string
  beforeAll(async () => {
    dir = await tempDir('df-token-')
    tokens = await startTokenServer(dir)
    registry = await startRegistry(dir, { auth: tokens.auth })
    image = await buildOciLayout(join(dir, 'src'), [200 * KiB, 700 * KiB])
    await skopeo([
      'copy',
      '--dest-tls-verify=false',
      '--dest-creds',
      tokens.credentials,
      `oci:${image.dir}:${image.tag}`,
      `docker://${registry.host}/team/app:${image.tag}`,
    ])
    basic = `Basic ${Buffer.from(tokens.credentials).toString('base64')}`
    supernode = await startSupernode(join(dir, 'sn'))
  })
  afterAll(async () => {
    killAll()
    await registry?.stop()
    await tokens?.close()
  })

  it('the registry refuses a request without a token (the challenge is real)', async () => {
    const res = await fetch(`${registry.url}/v2/team/app/manifests/${image.tag}`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(new RegExp(`^Bearer realm="${tokens.auth.realm}",service="${tokens.auth.service}"`))
  })

  it('preheat --image without credentials gets an empty token and fails with E_UNAUTHORIZED (exit 3)', async () => {
    const run = dragonfly(['preheat', '--image', `${registry.host}/team/app:${image.tag}`, '--supernode', supernode.url, '--json'])
    expect(await run.done, run.stdout + run.stderr).toBe(3)
    expect(parseJsonLine<{ error: { code: string } }>(run.stdout).error.code).toBe('E_UNAUTHORIZED')
  })

  it('preheat --image -H Basic: takes a token from the realm with the credentials, and every layer is cached', async () => {
    const asked = tokens.requests.length
    const run = dragonfly([
      'preheat',
      '--image',
      `${registry.host}/team/app:${image.tag}`,
      '-H',
      `Authorization: ${basic}`,
      '--supernode',
      supernode.url,
      '--json',
    ])
    expect(await run.done, run.stdout + run.stderr).toBe(0)
    const out = parseJsonLine<{ items: { url: string; state: string; contentLength: number }[] }>(run.stdout)
    expect(out.items.map((i) => [i.url, i.state])).toEqual(image.layers.map((l) => [`http://${registry.host}/v2/team/app/blobs/${l}`, 'complete']))
    const fresh = tokens.requests.slice(asked)
    expect(fresh.length).toBeGreaterThan(0)
    expect(fresh.every((r) => r.authorized && r.scope === 'repository:team/app:pull')).toBe(true)
    // The supernode's own fetch of each layer carried the token: the registry served every layer once.
    await expect.poll(() => image.layers.map((l) => blobGets(registry.log()).get(l) ?? 0), { timeout: 5_000 }).toEqual(image.layers.map(() => 1))
  })

  // A client the way containerd's resolver works: on a 401 from the mirror it takes the challenge's realm and asks for a token.
  // (skopeo cannot pull a private image through the mirror: it learns challenges only from `GET /v2/`, which the
  // mirror answers 200 itself, and it sends --src-creds only to the primary registry.)
  it('the daemon mirror passes the real challenge on; a client with the token gets the preheated layer from the cache', async () => {
    const daemon = await startDaemon(join(dir, 'daemon'), supernode.url, ['--registry-mirror', registry.url])
    const layer = image.layers[1]!
    const blobUrl = `${daemon.url}/v2/team/app/blobs/${layer}`
    const denied = await fetch(blobUrl)
    expect(denied.status).toBe(401)
    const challenge = denied.headers.get('www-authenticate') ?? ''
    expect(challenge).toMatch(new RegExp(`^Bearer realm="${tokens.auth.realm}",service="${tokens.auth.service}",scope="repository:team/app:pull"`))
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
    const tokenFor = async (authorization?: string): Promise<string> => {
      const res = await fetch(`${params.realm}?service=${params.service}&scope=${params.scope}`, authorization ? { headers: { authorization } } : {})
      return ((await res.json()) as { token: string }).token
    }
    // An anonymous token grants nothing: the registry, and so the mirror, still say 401.
    expect((await fetch(blobUrl, { headers: { authorization: `Bearer ${await tokenFor()}` } })).status).toBe(401)
    const sentBefore = blobBytesSent(registry.log(), layer)
    expect(sentBefore).toBeGreaterThanOrEqual(image.blobs.get(layer)!.length)
    const granted = await fetch(blobUrl, { headers: { authorization: `Bearer ${await tokenFor(basic)}` } })
    expect(granted.status).toBe(200)
    expect(Buffer.from(await granted.arrayBuffer()).equals(image.blobs.get(layer)!)).toBe(true)
    // Same task id as the preheat (URL + digest): the bytes came from the supernode's cache, not the registry.
    expect(blobBytesSent(registry.log(), layer)).toBe(sentBefore)
    await daemon.stop()
  })
})
