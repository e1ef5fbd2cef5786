import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { killAll, type SupernodeProcess, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { blobGets, buildOciLayout, type OciImage, type Registry, registriesConf, skopeo, startRegistry } from '../helpers/registry.ts'

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
  // Streaming, auth, wrong content and the error table run against docker-registry too:
  // daemon-mirror-errors.test.ts and registry-token-auth.test.ts.
})
