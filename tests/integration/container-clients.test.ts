import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { killAll, type SupernodeProcess, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Containerd, hostsToml, startContainerd } from '../helpers/containerd.ts'
import { parsePromText } from '../helpers/prom-text.ts'
import { blobGets, type OciImage, type Registry, registriesConf, skopeo, startRegistry } from '../helpers/registry.ts'
import { buildTarImage } from '../helpers/tar-image.ts'

const MiB = 1024 * 1024
const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('real container clients pull through `dragonfly daemon`: containerd (hosts.toml) and skopeo (registries.conf)', () => {
  let dir: string
  let registry: Registry
  let image: OciImage
  let supernode: SupernodeProcess
  /** containerd's: no --registry-mirror, the upstream comes from containerd's `?ns=`. */
  let daemon: SupernodeProcess
  /** skopeo's: registries.conf names no upstream in the path for a registry with a port, so --registry-mirror does. */
  let mirrorDaemon: SupernodeProcess
  let containerd: Containerd
  let pushedLog = 0
  const big = randomBytes(6 * MiB)
  const note = Buffer.from('pulled through a dragonfly daemon\n')
  const ref = () => `${registry.host}/test/app:${image.tag}`

  beforeAll(async () => {
    dir = await tempDir('df-clients-')
    registry = await startRegistry(dir)
    image = await buildTarImage(join(dir, 'src'), [{ 'opt/app/big.bin': big }, { 'etc/dragonfly-note.txt': note }])
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, `docker://${ref()}`])
    pushedLog = registry.log().length
    supernode = await startSupernode(join(dir, 'sn'))
    ;[daemon, mirrorDaemon] = await Promise.all([
      startDaemon(join(dir, 'daemon'), supernode.url),
      startDaemon(join(dir, 'mirror-daemon'), supernode.url, ['--registry-mirror', registry.url]),
    ])
    containerd = await startContainerd(join(dir, 'containerd'))
  })
  afterAll(async () => {
    await containerd?.stop()
    killAll()
    await registry?.stop()
  })

  it('ctr pulls and unpacks the image with a hosts.toml mirror entry; every blob came through the daemon and the files match', async () => {
    const hostsDir = join(dir, 'certs.d')
    await mkdir(join(hostsDir, registry.host), { recursive: true })
    await writeFile(join(hostsDir, registry.host, 'hosts.toml'), hostsToml(registry.url, daemon.url))
    await containerd.ctr(['images', 'pull', '--hosts-dir', hostsDir, '--snapshotter', 'native', ref()])

    // The daemon ran one P2P download per blob (config and layers), and they all finished.
    const tasks = (await (await fetch(`${daemon.url}${DAEMON_ROUTES.tasks}`)).json()) as { tasks: { url: string; state: string }[] }
    for (const digest of image.blobs.keys()) {
      expect(tasks.tasks.find((t) => t.url.endsWith(`/blobs/${digest}`))?.state, `daemon task for ${digest}`).toBe('done')
    }
    const metrics = parsePromText(await (await fetch(`${daemon.url}/metrics`)).text())
    const sample = (name: string, labels: Record<string, string>) =>
      metrics.get(name)?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value
    expect(sample('dragonfly_downloads_total', { result: 'ok' })).toBe(image.blobs.size)
    const blobBytes = [...image.blobs.values()].reduce((sum, b) => sum + b.length, 0)
    expect((sample('dragonfly_piece_bytes_total', { from: 'supernode' }) ?? 0) + (sample('dragonfly_piece_bytes_total', { from: 'peer' }) ?? 0)).toBe(blobBytes)
    // The registry served each blob once, to the supernode: containerd did not go around the daemon.
    const gets = blobGets(registry.log().slice(pushedLog))
    for (const digest of image.blobs.keys()) expect(gets.get(digest), `registry GETs of ${digest}`).toBe(1)

    // containerd's content store holds the blobs as pushed, and the native snapshotter unpacked the files.
    const content = join(containerd.root, 'io.containerd.content.v1.content', 'blobs', 'sha256')
    for (const [digest, bytes] of image.blobs) expect((await readFile(join(content, digest.slice(7)))).equals(bytes), digest).toBe(true)
    const snapshots = join(containerd.root, 'io.containerd.snapshotter.v1.native', 'snapshots')
    const found = { note: false, big: false }
    for (const id of await readdir(snapshots)) {
      const text = await readFile(join(snapshots, id, 'etc/dragonfly-note.txt')).catch(() => null)
      const blob = await readFile(join(snapshots, id, 'opt/app/big.bin')).catch(() => null)
      if (text?.equals(note)) found.note = true
      if (blob && sha256(blob) === sha256(big)) found.big = true
    }
    expect(found).toEqual({ note: true, big: true })
    expect(await containerd.ctr(['images', 'check'])).toMatch(/complete/)
  })

  it('skopeo pulls the same image through the daemon with registries.conf; the blobs come from its cache', async () => {
    const conf = join(dir, 'registries.conf')
    await writeFile(conf, registriesConf(registry.host, new URL(mirrorDaemon.url).host))
    const out = join(dir, 'skopeo-pulled')
    await skopeo(['--registries-conf', conf, 'copy', `docker://${ref()}`, `oci:${out}:${image.tag}`])
    for (const [digest, bytes] of image.blobs) {
      expect((await readFile(join(out, 'blobs', 'sha256', digest.slice(7)))).equals(bytes), digest).toBe(true)
    }
    const tasks = (await (await fetch(`${mirrorDaemon.url}${DAEMON_ROUTES.tasks}`)).json()) as { tasks: { url: string; state: string }[] }
    for (const digest of image.blobs.keys()) expect(tasks.tasks.find((t) => t.url.endsWith(`/blobs/${digest}`))?.state, digest).toBe('done')
    const gets = blobGets(registry.log().slice(pushedLog))
    for (const digest of image.blobs.keys()) expect(gets.get(digest), `registry GETs of ${digest}`).toBe(1)
  })
})
