import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import type { OciImage } from './registry.ts'

const run = promisify(execFile)
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** Files of one layer: path inside the image → content. */
export type LayerFiles = Record<string, Buffer>

/**
 * An OCI image layout whose layers are real tar archives (made by `tar` from
 * the given files, then gzipped), so a client can unpack it; the config names
 * this machine's platform.
 */
export async function buildTarImage(dir: string, layerFiles: LayerFiles[], tag = 'v1'): Promise<OciImage> {
  const blobsDir = join(dir, 'blobs', 'sha256')
  await mkdir(blobsDir, { recursive: true })
  const blobs = new Map<string, Buffer>()
  const put = async (bytes: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha(bytes)
    blobs.set(digest, bytes)
    await writeFile(join(blobsDir, digest.slice(7)), bytes)
    return { digest, size: bytes.length }
  }
  const layers: { mediaType: string; digest: string; size: number }[] = []
  const diffIds: string[] = []
  for (const [i, files] of layerFiles.entries()) {
    const tree = join(dir, `layer-${i}`)
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(tree, path)), { recursive: true })
      await writeFile(join(tree, path), content)
    }
    const { stdout } = await run('tar', ['-C', tree, '--owner=0', '--group=0', '-cf', '-', ...Object.keys(files)], {
      encoding: 'buffer',
      maxBuffer: 256 * 1024 * 1024,
    })
    diffIds.push(sha(stdout))
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...(await put(gzipSync(stdout, { level: 1 }))) })
  }
  const architecture = { x64: 'amd64', arm64: 'arm64' }[process.arch as string] ?? process.arch
  const config = await put(Buffer.from(JSON.stringify({ architecture, os: 'linux', rootfs: { type: 'layers', diff_ids: diffIds }, config: {} })))
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers,
    }),
  )
  const { digest: manifestDigest } = await put(manifest)
  blobs.delete(manifestDigest)
  const entry = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: manifestDigest,
    size: manifest.length,
    annotations: { 'org.opencontainers.image.ref.name': tag },
  }
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [entry] }))
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }))
  return { dir, tag, manifest, manifestDigest, blobs, layers: layers.map((l) => l.digest) }
}
