import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killAll, type SupernodeProcess, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { buildOciLayout, type OciImage, type Registry, skopeo, startRegistry } from '../helpers/registry.ts'
import { startTcpRelay } from '../helpers/tcp-relay.ts'

const MiB = 1024 * 1024
const errorCode = async (res: Response): Promise<string> => ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

// Everything here is a real docker-registry and real daemon processes; the upstream misbehaviours are made
// by the test's own TCP relay (a held response) and by rewriting a blob in the registry's storage (wrong bytes).
describe('daemon mirror against docker-registry: streaming, wrong content and the error table of docs/daemon.md', () => {
  let dir: string
  let registry: Registry
  let image: OciImage
  let supernode: SupernodeProcess
  let daemon: SupernodeProcess
  let bare: SupernodeProcess
  let big: string
  beforeAll(async () => {
    dir = await tempDir('df-mirror-')
    registry = await startRegistry(dir)
    image = await buildOciLayout(join(dir, 'src'), [16 * MiB, 4 * MiB, 1024])
    await skopeo(['copy', '--dest-tls-verify=false', `oci:${image.dir}:${image.tag}`, `docker://${registry.host}/test/img:${image.tag}`])
    big = image.layers[0]!
    // The registry serves what its storage holds without checking it: same length, other bytes.
    for (const digest of image.layers.slice(1)) {
      const hex = digest.slice(7)
      await writeFile(join(dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'), randomBytes(image.blobs.get(digest)!.length))
    }
    supernode = await startSupernode(join(dir, 'sn'))
    daemon = await startDaemon(join(dir, 'd'), supernode.url, ['--registry-mirror', registry.url])
    // No registry mirror, no supernode that answers, and back-to-source off.
    await writeFile(join(dir, 'no-source.json'), JSON.stringify({ peer: { backSource: false } }))
    bare = await startDaemon(join(dir, 'bare'), 'http://127.0.0.1:1', ['--config', join(dir, 'no-source.json')])
  })
  afterAll(async () => {
    killAll()
    await registry?.stop()
  })

  it('?ns= names the upstream, and a layer is streamed while the upstream is still held mid-body', async () => {
    const relay = await startTcpRelay({ host: '127.0.0.1', port: Number(new URL(registry.url).port) }, { holdAfter: 10 * MiB })
    try {
      const res = await fetch(`${daemon.url}/v2/test/img/blobs/${big}?ns=${new URL(relay.url).host}`)
      expect(res.status).toBe(200)
      const reader = res.body!.getReader()
      // Liveness bound only: a daemon that waited for the whole layer would never get here, since the relay holds it.
      const first = await Promise.race([
        reader.read(),
        new Promise<never>((_, fail) => setTimeout(() => fail(new Error('no byte while upstream held')), 100_000)),
      ])
      expect(first.done).toBe(false)
      await relay.held
      expect(relay.connections).toBeGreaterThan(0)
      relay.release()
      const chunks: Uint8Array[] = [first.value!]
      for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value)
      expect(Buffer.concat(chunks).equals(image.blobs.get(big)!)).toBe(true)
    } finally {
      await relay.close()
    }
  })

  it('never hands out a blob whose bytes the registry changed: 502 DIGEST_INVALID for one piece, a cut stream for many', async () => {
    const [wrongBig, wrongSmall] = [image.layers[1]!, image.layers[2]!]
    const small = await fetch(`${daemon.url}/v2/test/img/blobs/${wrongSmall}`)
    expect(small.status).toBe(502)
    expect(await errorCode(small)).toBe('DIGEST_INVALID')
    const res = await fetch(`${daemon.url}/v2/test/img/blobs/${wrongBig}`)
    let received = 0
    if (res.status !== 200) {
      expect(res.status).toBe(502)
      expect(await errorCode(res)).toBe('DIGEST_INVALID')
    } else {
      const reader = res.body!.getReader()
      const cut = await (async () => {
        for (let r = await reader.read(); !r.done; r = await reader.read()) received += r.value.byteLength
        return false
      })().catch(() => true)
      expect(cut).toBe(true)
    }
    expect(received).toBeLessThan(image.blobs.get(wrongBig)!.length)
    // Positive control: the registry really sends those bytes with the digest's name on them.
    const direct = Buffer.from(await (await fetch(`${registry.url}/v2/test/img/blobs/${wrongSmall}`)).arrayBuffer())
    expect(direct.length).toBe(image.blobs.get(wrongSmall)!.length)
    expect(sha(direct)).not.toBe(wrongSmall)
  })

  it('GET /v2/ answers {} with the version header; a range past the end is 416', async () => {
    for (const d of [daemon, bare]) {
      const res = await fetch(`${d.url}/v2/`)
      expect(res.status).toBe(200)
      expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0')
      expect(await res.json()).toEqual({})
    }
    const size = image.blobs.get(big)!.length
    const inside = await fetch(`${daemon.url}/v2/test/img/blobs/${big}`, { headers: { range: 'bytes=0-9' } })
    expect(inside.status).toBe(206)
    expect(Buffer.from(await inside.arrayBuffer()).equals(image.blobs.get(big)!.subarray(0, 10))).toBe(true)
    const past = await fetch(`${daemon.url}/v2/test/img/blobs/${big}`, { headers: { range: `bytes=${size}-` } })
    expect(past.status).toBe(416)
    expect(past.headers.get('content-range')).toBe(`bytes */${size}`)
  })

  it('no upstream is 404 NAME_UNKNOWN; no supernode with back-to-source off is 503 UNAVAILABLE; the rest of the table', async () => {
    const layer = image.layers[0]!
    const cases: [string, number, string][] = [
      [`${bare.url}/v2/test/img/blobs/${layer}`, 404, 'NAME_UNKNOWN'],
      [`${bare.url}/v2/test/img/blobs/${layer}?ns=${registry.host}`, 503, 'UNAVAILABLE'],
      [`${daemon.url}/v2/test/img/blobs/sha256:1234`, 400, 'DIGEST_INVALID'],
      [`${daemon.url}/v2/test/img/blobs/not-a-digest`, 400, 'DIGEST_INVALID'],
      [`${daemon.url}/v2/127.0.0.1:1/x/img/blobs/${layer}`, 502, 'UNAVAILABLE'],
      [`${daemon.url}/v2/127.0.0.1:1/x/img/manifests/latest`, 502, 'UNAVAILABLE'],
      [`${daemon.url}/v2/test/img/blobs/${sha(randomBytes(8))}`, 404, 'BLOB_UNKNOWN'],
    ]
    for (const [url, status, code] of cases) {
      const res = await fetch(url)
      expect(res.status, url).toBe(status)
      expect(await errorCode(res), url).toBe(code)
    }
    // Positive control for the 503: the same request through a daemon with a supernode is served.
    expect((await fetch(`${daemon.url}/v2/test/img/blobs/${layer}?ns=${registry.host}`)).status).toBe(200)
  })
})
