import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { killAll, type SupernodeProcess, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { blobGets, buildOciLayout, type OciImage, type Registry, registriesConf, skopeo, startRegistry } from '../helpers/registry.ts'
import { CHALLENGE, digestOf, type RegistryStub, startRegistryStub } from '../helpers/registry-stub.ts'

const MiB = 1024 * 1024

describe('daemon as registry mirror: docker-registry, skopeo, a supernode and 3 daemons', () => {
  let dir: string
  let registry: Registry
  let image: OciImage
  let supernode: SupernodeProcess
  let daemons: SupernodeProcess[]
  let pushedLog = 0

  beforeAll(async () => {
    dir = await tempDir('df-registry-')
    registry = await startRegistry(dir)
    image = await buildOciLayout(join(dir, 'src'), [1 * MiB, 8 * MiB, 24 * MiB])
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, `docker://${registry.host}/test/img:${image.tag}`])
    pushedLog = registry.log().length
    supernode = await startSupernode(join(dir, 'sn'))
    daemons = await Promise.all([0, 1, 2].map((i) => startDaemon(join(dir, `d${i}`), supernode.url, ['--registry-mirror', registry.url])))
  })
  afterAll(async () => {
    killAll()
    await registry?.stop()
  })

  it('3 simultaneous pulls through 3 daemons get identical blobs, and each blob leaves the registry once', async () => {
    const pulls = daemons.map(async (daemon, i) => {
      const conf = join(dir, `registries-${i}.conf`)
      await writeFile(conf, registriesConf(registry.host, new URL(daemon.url).host))
      await skopeo(['--registries-conf', conf, 'copy', `docker://${registry.host}/test/img:${image.tag}`, `oci:${join(dir, `pulled-${i}`)}:${image.tag}`])
    })
    await Promise.all(pulls)
    for (let i = 0; i < 3; i++) {
      const out = join(dir, `pulled-${i}`)
      const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }
      expect(index.manifests[0]!.digest).toBe(image.manifestDigest)
      expect((await readFile(join(out, 'blobs', 'sha256', image.manifestDigest.slice(7)))).equals(image.manifest)).toBe(true)
      for (const [digest, bytes] of image.blobs) {
        expect((await readFile(join(out, 'blobs', 'sha256', digest.slice(7)))).equals(bytes), `${digest} in pull ${i}`).toBe(true)
      }
    }
    // Each layer and the config were read from the registry once in total (by the supernode), not once per daemon.
    const gets = blobGets(registry.log().slice(pushedLog))
    for (const digest of image.blobs.keys()) expect(gets.get(digest), `GETs of ${digest}`).toBe(1)
    const tasks = (await (await fetch(`${daemons[0]!.url}${DAEMON_ROUTES.tasks}`)).json()) as { tasks: { state: string }[] }
    expect(tasks.tasks.length).toBe(image.blobs.size)
    expect(tasks.tasks.every((t) => t.state === 'done')).toBe(true)
  })

  it('serves HEAD, Range and the registries.conf path form /v2/<registry>/<name>/… from the cache', async () => {
    const layer = image.layers[1]!
    const bytes = image.blobs.get(layer)!
    const base = `${daemons[1]!.url}/v2/${registry.host}/test/img`
    const head = await fetch(`${base}/blobs/${layer}`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String(bytes.length))
    const ranged = await fetch(`${base}/blobs/${layer}`, { headers: { range: 'bytes=1000-299999' } })
    expect(ranged.status).toBe(206)
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-299999/${bytes.length}`)
    expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(1000, 300000))).toBe(true)
    const whole = await fetch(`${base}/blobs/${layer}`)
    expect(whole.headers.get('docker-content-digest')).toBe(layer)
    expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true)
    const manifest = await fetch(`${base}/manifests/${image.tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    expect(manifest.status).toBe(200)
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.manifest)).toBe(true)
    expect(blobGets(registry.log().slice(pushedLog)).get(layer)).toBe(1)
  })

  describe('against a registry stub: streaming, auth, wrong content, bad input', () => {
    const big = randomBytes(16 * MiB)
    const wrongBig = { claimed: digestOf(randomBytes(32)), bytes: randomBytes(4 * MiB) }
    const wrongSmall = { claimed: digestOf(randomBytes(32)), bytes: randomBytes(1024) }
    const secret = randomBytes(2 * MiB)
    let stub: RegistryStub
    let base: string
    beforeAll(async () => {
      stub = await startRegistryStub(
        new Map([
          [digestOf(big), { bytes: big, rate: 4 * MiB }],
          [wrongBig.claimed, { bytes: wrongBig.bytes }],
          [wrongSmall.claimed, { bytes: wrongSmall.bytes }],
          [digestOf(secret), { bytes: secret, auth: 'Bearer good' }],
        ]),
      )
      base = `${daemons[2]!.url}/v2/${stub.host}`
    })
    afterAll(() => stub?.close())

    it('streams the first bytes of a large layer before the layer is complete', async () => {
      const digest = digestOf(big)
      const started = Date.now()
      const res = await fetch(`${base}/x/img/blobs/${digest}`)
      expect(res.status).toBe(200)
      const reader = res.body!.getReader()
      const chunks: Uint8Array[] = []
      let firstByteAt = 0
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        if (!firstByteAt && value.byteLength > 0) firstByteAt = Date.now()
        chunks.push(value)
      }
      const endedAt = Date.now()
      expect(Buffer.concat(chunks).equals(big)).toBe(true)
      // The upstream needs ~4 s for the blob; the client had its first bytes long before the upstream was done.
      const upstreamDone = stub.sent.get(digest)!
      expect(firstByteAt - started).toBeLessThan(upstreamDone - started - 1500)
      expect(firstByteAt).toBeLessThan(endedAt - 1500)
    })

    it('passes a 401 challenge on unchanged, and the client credentials to the upstream', async () => {
      const digest = digestOf(secret)
      const denied = await fetch(`${base}/private/img/blobs/${digest}`)
      expect(denied.status).toBe(401)
      expect(denied.headers.get('www-authenticate')).toBe(CHALLENGE)
      expect(((await denied.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('UNAUTHORIZED')
      const granted = await fetch(`${base}/private/img/blobs/${digest}`, { headers: { authorization: 'Bearer good' } })
      expect(granted.status).toBe(200)
      expect(Buffer.from(await granted.arrayBuffer()).equals(secret)).toBe(true)
      const bodyGets = stub.requests.filter((r) => r.method === 'GET' && r.path.endsWith(digest))
      expect(bodyGets.at(-1)!.authorization).toBe('Bearer good')
    })

    it('never hands out a blob whose bytes do not match its digest', async () => {
      const small = await fetch(`${base}/x/img/blobs/${wrongSmall.claimed}`)
      expect(small.status).toBe(502)
      expect(((await small.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID')
      // Many pieces: either the daemon refuses at once, or the stream starts and is cut short of its length.
      const res = await fetch(`${base}/x/img/blobs/${wrongBig.claimed}`)
      let received = 0
      if (res.status !== 200) {
        expect(res.status).toBe(502)
        expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('DIGEST_INVALID')
      } else {
        const reader = res.body!.getReader()
        const cut = await (async () => {
          for (;;) {
            const { done, value } = await reader.read()
            if (done) return false
            received += value.byteLength
          }
        })().catch(() => true)
        expect(cut).toBe(true)
      }
      expect(received).toBeLessThan(wrongBig.bytes.length)
    })

    it('answers registry errors for a malformed digest and an upstream that is down', async () => {
      const cases: [string, number, string][] = [
        [`${base}/x/img/blobs/sha256:1234`, 400, 'DIGEST_INVALID'],
        [`${base}/x/img/blobs/not-a-digest`, 400, 'DIGEST_INVALID'],
        [`${daemons[2]!.url}/v2/127.0.0.1:1/x/img/blobs/${digestOf(big)}`, 502, 'UNAVAILABLE'],
        [`${daemons[2]!.url}/v2/127.0.0.1:1/x/img/manifests/latest`, 502, 'UNAVAILABLE'],
        [`${base}/x/img/blobs/${digestOf(randomBytes(8))}`, 404, 'BLOB_UNKNOWN'],
      ]
      for (const [url, status, code] of cases) {
        const res = await fetch(url)
        expect(res.status, url).toBe(status)
        expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code, url).toBe(code)
      }
    })
  })
})
