import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'

const run = promisify(execFile)

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}

export interface Registry {
  url: string
  host: string
  /** Everything the registry logged (its access log lists each request). */
  log(): string
  stop(): Promise<void>
}

/** What docker-registry's `auth: token:` section needs: where clients get tokens, and the certificate the tokens are signed with. */
export interface RegistryTokenAuth {
  realm: string
  service: string
  issuer: string
  rootCertBundle: string
}

/**
 * Debian's `docker-registry` (distribution 2.8) on a free loopback port, storage in `dir`; push notifications
 * to `webhook` if given; with `auth`, every request needs a Bearer token from that realm.
 */
export async function startRegistry(dir: string, options: { webhook?: string; auth?: RegistryTokenAuth } = {}): Promise<Registry> {
  const port = await freePort()
  const config = join(dir, 'registry.yml')
  const notifications = options.webhook
    ? [
        'notifications:',
        '  endpoints:',
        '    - name: dragonfly',
        `      url: ${options.webhook}`,
        '      timeout: 5s',
        '      threshold: 5',
        '      backoff: 1s',
      ]
    : []
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...notifications,
      ...(options.auth
        ? [
            'auth:',
            '  token:',
            `    realm: ${options.auth.realm}`,
            `    service: ${options.auth.service}`,
            `    issuer: ${options.auth.issuer}`,
            `    rootcertbundle: ${options.auth.rootCertBundle}`,
          ]
        : []),
      '',
    ].join('\n'),
  )
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const host = `127.0.0.1:${port}`
  const until = Date.now() + 20_000
  for (;;) {
    const ok = await fetch(`http://${host}/v2/`).then(
      (r) => r.ok || (options.auth !== undefined && r.status === 401),
      () => false,
    )
    if (ok) break
    if (Date.now() > until || child.exitCode !== null) throw new Error(`registry did not start: ${output}`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url: `http://${host}`,
    host,
    log: () => output,
    stop: () => new Promise((resolve) => (child.exitCode !== null ? resolve() : (child.once('close', () => resolve()), child.kill('SIGTERM')))),
  }
}

export interface OciImage {
  dir: string
  tag: string
  manifest: Buffer
  manifestDigest: string
  /** Every blob (config and layers) by digest. */
  blobs: Map<string, Buffer>
  layers: string[]
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/**
 * An OCI image layout written by hand: random layers of about the given sizes, a config, a manifest,
 * index.json. Layers are real gzip (skopeo would compress uncompressed layers on push, changing digests).
 */
export async function buildOciLayout(dir: string, layerSizes: number[], tag = 'v1'): Promise<OciImage> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true })
  const blobs = new Map<string, Buffer>()
  const put = async (bytes: Buffer): Promise<string> => {
    const digest = sha(bytes)
    blobs.set(digest, bytes)
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes)
    return digest
  }
  const layers: { mediaType: string; digest: string; size: number }[] = []
  const diffIds: string[] = []
  for (const size of layerSizes) {
    const raw = randomBytes(size)
    const gz = gzipSync(raw, { level: 1 })
    diffIds.push(sha(raw))
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: await put(gz), size: gz.length })
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds } }))
  const configDigest = await put(config)
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers,
    }),
  )
  const manifestDigest = await put(manifest)
  blobs.delete(manifestDigest)
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifestDigest,
        size: manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': tag },
      },
    ],
  }
  await writeFile(join(dir, 'index.json'), JSON.stringify(index))
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  return { dir, tag, manifest, manifestDigest, blobs, layers: layers.map((l) => l.digest) }
}

export interface PlatformImage {
  platform: string
  manifestDigest: string
  manifestSize: number
  layers: { digest: string; size: number }[]
}

/** An OCI layout whose `tag` is an image index: one image per platform (`os/arch`), each with random gzip layers. */
export async function buildMultiPlatformLayout(dir: string, tag: string, platforms: string[], layerSizes: number[]): Promise<PlatformImage[]> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true })
  const put = async (bytes: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha(bytes)
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes)
    return { digest, size: bytes.length }
  }
  const images: PlatformImage[] = []
  for (const platform of platforms) {
    const [os, architecture] = platform.split('/')
    const raw = layerSizes.map((n) => randomBytes(n))
    const layers = await Promise.all(raw.map((r) => put(gzipSync(r, { level: 1 }))))
    const config = await put(Buffer.from(JSON.stringify({ architecture, os, rootfs: { type: 'layers', diff_ids: raw.map(sha) } })))
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
    }
    const m = await put(Buffer.from(JSON.stringify(manifest)))
    images.push({ platform, manifestDigest: m.digest, manifestSize: m.size, layers })
  }
  const index = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: images.map((image) => {
          const [os, architecture] = image.platform.split('/')
          return {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: image.manifestDigest,
            size: image.manifestSize,
            platform: { os, architecture },
          }
        }),
      }),
    ),
  )
  const entry = { mediaType: 'application/vnd.oci.image.index.v1+json', ...index, annotations: { 'org.opencontainers.image.ref.name': tag } }
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }))
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  return images
}

/** `skopeo <args>` with no signature policy; rejects with its stderr on failure. */
export async function skopeo(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (error) {
    throw new Error(`skopeo ${args.join(' ')} failed: ${(error as { stderr?: string }).stderr ?? error}`)
  }
}

/** A registries.conf sending pulls of `registry` to the mirror `mirror` (both plain http). */
export function registriesConf(registry: string, mirror: string): string {
  return ['[[registry]]', `location = "${registry}"`, 'insecure = true', '', '[[registry.mirror]]', `location = "${mirror}"`, 'insecure = true', ''].join('\n')
}

/** GETs of each blob digest in the registry's access log (HEADs and other methods are not counted). */
export function blobGets(log: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const m of log.matchAll(/"GET \/v2\/[^"]*?\/blobs\/(sha256:[0-9a-f]{64}) HTTP\/[\d.]+" (\d{3})/g)) {
    counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1)
  }
  return counts
}

/** Body bytes the registry's access log says it sent for GETs of `digest` (each line: `"GET … HTTP/1.1" <status> <bytes>`). */
export function blobBytesSent(log: string, digest: string): number {
  let total = 0
  for (const m of log.matchAll(/"GET \/v2\/[^"]*?\/blobs\/(sha256:[0-9a-f]{64}) HTTP\/[\d.]+" \d{3} (\d+)/g)) if (m[1] === digest) total += Number(m[2])
  return total
}
