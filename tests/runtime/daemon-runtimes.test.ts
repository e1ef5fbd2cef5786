import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectStatus, proxyGet, tunnelGet } from '../helpers/proxy-client.ts'
import { buildOciLayout, type OciImage, type Registry, registriesConf, skopeo, startRegistry } from '../helpers/registry.ts'
import { type FileOrigin, startFileOrigin, writeRandomFile } from './file-origin.ts'
import { assertBuilt, cleanup, describeProc, parseJsonOutput, type RuntimeName, runDragonfly, startDaemon, startSupernode, tempDir } from './processes.ts'

// The daemon on Bun and on Deno, as a registry mirror that skopeo pulls through and as an HTTP proxy: the
// answers clients rely on (a blob's Content-Length on GET and HEAD, Range, the digest header, a proxied
// file's length) must be the same as on Node, whichever server the runtime has. Needs `npm run build` first.

const MiB = 1024 * 1024
const RUNTIMES: RuntimeName[] = ['bun', 'deno']

let dir: string
let cwd: string
let registry: Registry
let image: OciImage
let origin: FileOrigin
let file: Buffer

beforeAll(async () => {
  assertBuilt()
  dir = await tempDir('df-daemon-rt-')
  cwd = await tempDir('df-daemon-rt-cwd-')
  registry = await startRegistry(dir)
  image = await buildOciLayout(join(dir, 'src'), [1 * MiB, 12 * MiB])
  await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, `docker://${registry.host}/rt/img:${image.tag}`])
  const path = await writeRandomFile(dir, 6 * MiB)
  file = await readFile(path)
  origin = await startFileOrigin(path)
}, 120_000)

afterAll(async () => {
  await cleanup()
  await registry?.stop()
  await origin?.close()
}, 60_000)

describe.each(RUNTIMES)('daemon on %s as a registry mirror', (runtime) => {
  it('skopeo pulls through it; blobs and a proxied file keep their length; a get hands over to it; CONNECT tunnels; the SSRF guard holds', async () => {
    const home = await tempDir(`df-daemon-${runtime}-`)
    const supernode = await startSupernode('node', join(home, 'sn'), cwd)
    const config = join(home, 'daemon.config.json')
    await writeFile(config, JSON.stringify({ daemon: { proxyRules: ['\\.bin$'] } }))
    const daemon = await startDaemon(runtime, join(home, 'daemon'), supernode.url, cwd, ['--registry-mirror', registry.url, '--config', config])
    const conf = join(home, 'registries.conf')
    await writeFile(conf, registriesConf(registry.host, new URL(daemon.url).host))
    const out = join(home, 'pulled')
    await skopeo(['--registries-conf', conf, 'copy', `docker://${registry.host}/rt/img:${image.tag}`, `oci:${out}:${image.tag}`])
    for (const [digest, bytes] of image.blobs) {
      expect((await readFile(join(out, 'blobs', 'sha256', digest.slice(7)))).equals(bytes), `${digest} pulled through ${runtime}`).toBe(true)
    }

    // The layer is cached now; a second layer-sized blob is asked for cold below through GET.
    const base = `${daemon.url}/v2/rt/img`
    const [small, big] = image.layers as [string, string]
    for (const layer of [small, big]) {
      const bytes = image.blobs.get(layer)!
      const head = await fetch(`${base}/blobs/${layer}`, { method: 'HEAD' })
      expect([head.status, head.headers.get('content-length')], `HEAD ${layer}`).toEqual([200, String(bytes.length)])
      const whole = await fetch(`${base}/blobs/${layer}`)
      expect([whole.status, whole.headers.get('content-length'), whole.headers.get('docker-content-digest')]).toEqual([200, String(bytes.length), layer])
      expect(whole.headers.get('transfer-encoding'), 'a blob of known length is not sent chunked').toBeNull()
      expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true)
      const ranged = await fetch(`${base}/blobs/${layer}`, { headers: { range: 'bytes=100-200099' } })
      expect([ranged.status, ranged.headers.get('content-length'), ranged.headers.get('content-range')]).toEqual([
        206,
        '200000',
        `bytes 100-200099/${bytes.length}`,
      ])
      expect(Buffer.from(await ranged.arrayBuffer()).equals(bytes.subarray(100, 200100))).toBe(true)
    }

    // As HTTP_PROXY: a file that matches a proxy rule is a P2P download, streamed with its length.
    const proxied = await proxyGet(daemon.url, origin.url)
    expect([proxied.status, proxied.headers['content-length'], proxied.headers['transfer-encoding']]).toEqual([200, String(file.length), undefined])
    expect(proxied.headers['x-dragonfly-task-id'], 'a P2P download, not a pass-through').toMatch(/^[0-9a-f]{64}$/)
    expect(proxied.body.equals(file)).toBe(true)
    // `get` hands its download to the daemon, which streams it back (the download API).
    const handed = join(home, 'handed.bin')
    const get = runDragonfly('node', ['get', origin.url, '--tag', 'handed', '-o', handed, '--daemon', daemon.url, '--json'], cwd)
    expect(await get.exited, describeProc(get)).toBe(0)
    expect((await readFile(handed)).equals(file)).toBe(true)
    expect(parseJsonOutput<{ daemon?: string }>(get).daemon).toBe(daemon.url)
    // CONNECT: a tunnel to the origin, a ranged GET through it (Bun: its node:http; Deno: the adapter's server).
    const tunnelled = await tunnelGet(daemon.url, new URL(origin.url).host, '/file.bin')
    expect(`${tunnelled.status} ${tunnelled.answer}`).toMatch(/^200 HTTP\/1\.1 206 /)

    // The SSRF guard holds on this runtime too: with loopback denied, a name that resolves to it is refused
    // for a GET the daemon passes through itself (no proxy rule matches) and for a CONNECT, both checked on
    // the address it resolved; a CONNECT to the address as written is refused before any lookup.
    const strictConfig = join(home, 'strict.config.json')
    await writeFile(strictConfig, JSON.stringify({ daemon: { denySources: ['127.0.0.0/8', '::1'], proxyRules: ['\\.bin$'] } }))
    const strict = await startDaemon(runtime, join(home, 'strict'), supernode.url, cwd, ['--config', strictConfig])
    const byName = new URL(`${origin.url}?passed-through`)
    byName.hostname = 'localhost'
    const refused = await proxyGet(strict.url, byName.href)
    expect([refused.status, refused.body.toString()]).toEqual([403, expect.stringContaining('E_FORBIDDEN')])
    expect(await connectStatus(strict.url, byName.host)).toMatch(/^HTTP\/1\.1 403/)
    expect(await connectStatus(strict.url, `127.0.0.1:${byName.port}`)).toMatch(/^HTTP\/1\.1 403/)
    // A target the guard's URL parser and the resolver would read differently is refused as malformed.
    expect(await connectStatus(strict.url, `x?.localhost:${byName.port}`)).toMatch(/^HTTP\/1\.1 400/)
    expect(await strict.stop(), describeProc(strict.proc)).toBe(0)

    expect(await daemon.stop(), describeProc(daemon.proc)).toBe(0)
    // No runtime warning (Bun's node:http beside Bun.serve, Deno's npm compat) reaches the daemon's log.
    expect(daemon.proc.stderr + strict.proc.stderr, describeProc(daemon.proc)).not.toMatch(/warn|deprecat/i)
    expect(await supernode.stop(), describeProc(supernode.proc)).toBe(0)
  }, 180_000)
})
