import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { computeTaskId } from '../../core/protocol/task-id.ts'
import { dragonfly, killAll, parseJsonLine, type SupernodeProcess, startSupernode, tempDir } from '../helpers/cli.ts'
import { blobGets, buildMultiPlatformLayout, type PlatformImage, type Registry, skopeo, startRegistry } from '../helpers/registry.ts'

interface TaskJson {
  taskId: string
  url: string
  complete: boolean
  contentLength: number
  digest: string | null
}

describe('image preheat against a real docker-registry, pushed with skopeo', () => {
  let dir: string
  let registry: Registry
  let hooked: SupernodeProcess
  let images: PlatformImage[]
  beforeAll(async () => {
    dir = await tempDir()
    // The supernode that receives the registry's push notifications.
    hooked = await startSupernode(join(dir, 'sn-hook'))
    registry = await startRegistry(dir, { webhook: `${hooked.url}${SUPERNODE_ROUTES.registryWebhook}` })
    images = await buildMultiPlatformLayout(join(dir, 'layout'), 'multi', ['linux/amd64', 'linux/arm64'], [300_000, 1_200_000, 50_000])
    await skopeo(['copy', '--all', '--dest-tls-verify=false', `oci:${join(dir, 'layout')}:multi`, `docker://${registry.host}/team/app:multi`])
  })
  afterAll(async () => {
    killAll()
    await registry?.stop()
  })

  it('webhook: after a push, the supernode has every layer of every platform cached, under the digest task id', async () => {
    const expected = await Promise.all(
      images.flatMap((image) =>
        image.layers.map(async (l) => ({
          ...l,
          taskId: await computeTaskId({ url: `http://${registry.host}/v2/team/app/blobs/${l.digest}`, digest: l.digest }),
        })),
      ),
    )
    const until = Date.now() + 30_000
    let tasks: TaskJson[] = []
    while (Date.now() < until) {
      tasks = ((await (await fetch(`${hooked.url}${SUPERNODE_ROUTES.tasks}`)).json()) as { tasks: TaskJson[] }).tasks
      if (expected.every((e) => tasks.some((t) => t.taskId === e.taskId && t.complete))) break
      await new Promise((r) => setTimeout(r, 250))
    }
    for (const e of expected)
      expect(
        tasks.find((t) => t.taskId === e.taskId),
        registry.log(),
      ).toMatchObject({ complete: true, contentLength: e.size, digest: e.digest })
    expect(tasks).toHaveLength(expected.length)
  })

  it('preheat --image picks the platform; a get of each layer blob then takes 0 bytes from the registry', async () => {
    // Blob bytes the registry sends are counted from its access log: GETs of each layer digest.
    const gets = (digest: string) => blobGets(registry.log()).get(digest) ?? 0
    const supernode = await startSupernode(join(dir, 'sn-preheat'))
    try {
      const arm = images.find((i) => i.platform === 'linux/arm64')!
      const before = arm.layers.map((l) => gets(l.digest))
      const preheat = dragonfly(['preheat', '--image', `${registry.host}/team/app:multi`, '--platform', 'linux/arm64', '--supernode', supernode.url, '--json'])
      expect(await preheat.done, preheat.stderr + preheat.stdout).toBe(0)
      const out = parseJsonLine<{ ok: boolean; items: { url: string; state: string; contentLength: number }[] }>(preheat.stdout)
      expect(out.items.map((i) => i.url)).toEqual(arm.layers.map((l) => `http://${registry.host}/v2/team/app/blobs/${l.digest}`))
      expect(out.items.map((i) => [i.state, i.contentLength])).toEqual(arm.layers.map((l) => ['complete', l.size]))
      // The access log line is written as the response ends, a moment after the supernode has the bytes.
      const preheated = before.map((n) => n + 1)
      await expect.poll(() => arm.layers.map((l) => gets(l.digest)), { timeout: 5_000 }).toEqual(preheated)

      for (const [i, layer] of arm.layers.entries()) {
        const url = `http://${registry.host}/v2/team/app/blobs/${layer.digest}`
        const get = dragonfly([
          'get',
          url,
          '--digest',
          layer.digest,
          '-o',
          join(dir, `layer-${i}`),
          '--supernode',
          supernode.url,
          '--home',
          join(dir, `peer-${i}`),
          '--json',
        ])
        expect(await get.done, get.stderr).toBe(0)
        expect(parseJsonLine<{ bytes: number; bytesFromSource: number; digest: string }>(get.stdout)).toMatchObject({
          bytes: layer.size,
          bytesFromSource: 0,
          digest: layer.digest,
        })
      }
      // The registry logs each request as it ends: once a marker request sent after the gets is logged, any
      // layer GET of theirs would be too. (The poll above is the control: layer GETs do show up in this log.)
      const marker = `/v2/marker-${Date.now()}/tags/list`
      await fetch(`${registry.url}${marker}`)
      await expect.poll(() => registry.log().includes(`"GET ${marker} HTTP`), { timeout: 5_000 }).toBe(true)
      expect(arm.layers.map((l) => gets(l.digest))).toEqual(preheated)

      const missing = dragonfly([
        'preheat',
        '--image',
        `${registry.host}/team/app:multi`,
        '--platform',
        'windows/amd64',
        '--supernode',
        supernode.url,
        '--json',
      ])
      expect(await missing.done).toBe(4)
      expect(parseJsonLine<{ error: { code: string; message: string } }>(missing.stdout).error.message).toMatch(/linux\/amd64, linux\/arm64/)
    } finally {
      await supernode.stop()
    }
  })
})
