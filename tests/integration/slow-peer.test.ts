import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import type { FetchHandler } from '../../core/contract/serve.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { randomFile, sha256File, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { serveSupernode, startPeer } from '../helpers/swarm.ts'

const MiB = 1024 * 1024
const closers: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const c of closers.reverse()) await c()
})

/** A piece server that, once `slow.on`, answers piece requests with headers and then 1 KiB per 200 ms. */
function trickling(slow: { on: boolean; served: number }) {
  return (handler: FetchHandler, options: Parameters<typeof nodeRuntime.serve>[1]) =>
    nodeRuntime.serve(async (request) => {
      const response = await handler(request)
      if (!slow.on || !new URL(request.url).pathname.startsWith('/pieces/') || !response.body) return response
      slow.served++
      const bytes = new Uint8Array(await response.arrayBuffer())
      let at = 0
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          await new Promise((r) => setTimeout(r, 200))
          if (at >= bytes.length) return controller.close()
          controller.enqueue(bytes.subarray(at, (at += 1024)))
        },
      })
      return new Response(body, { status: response.status, headers: response.headers })
    }, options)
}

it('a slow peer: its pieces time out and come from elsewhere; the download completes with the right bytes', async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 8 * MiB)
  const origin = await startOrigin(file)
  closers.push(() => origin.close())
  const sn = await serveSupernode(join(dir, 'sn'), { swarm: { pieceTimeoutMs: 3_000 } })
  closers.push(() => sn.close())

  // The slow peer gets the whole file normally, then stays in the swarm serving at a trickle.
  const slow = { on: false, served: 0 }
  const slowPeer = await startPeer(join(dir, 'slow'), [sn.url], { serve: trickling(slow) })
  closers.push(() => slowPeer.close())
  await slowPeer.download({ url: origin.url() })
  slow.on = true

  const peer = await startPeer(join(dir, 'p'), [sn.url], { pieceTimeoutMs: 1_500 })
  closers.push(() => peer.close())
  const result = await peer.download({ url: origin.url() })

  // The scheduler prefers peers, so the slow one was asked; every such piece timed out and was fetched again elsewhere.
  expect(slow.served).toBeGreaterThan(0)
  expect(result.bytesFromPeers).toBe(0)
  expect(result.bytesFromSupernode).toBe(8 * MiB)
  const { exportFile } = await import('../../cli/export-file.ts')
  await exportFile(peer.options.storage, result.storageKey, join(dir, 'out'))
  expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
  // Reported as timeouts, the slow peer is not asked by this requester again.
  const task = sn.supernode.cdn.get(result.taskId)!
  expect(task.swarm.peers.get([...task.swarm.peers.keys()].find((id) => task.swarm.peers.get(id)!.address === slowPeer.address)!)?.isolated).toBe(false)
}, 60_000)

it('a lone peer whose piece from the supernode timed out asks again and finishes (the supernode is not blacklisted for good)', async () => {
  const { createSupernode } = await import('../../core/supernode/supernode.ts')
  const { plugins } = await import('../helpers/swarm.ts')
  const dir = await tempDir()
  const file = await randomFile(dir, 2 * MiB)
  const origin = await startOrigin(file)
  closers.push(() => origin.close())
  const supernode = createSupernode({
    plugins,
    storage: plugins.storage({ home: join(dir, 'sn'), namespace: 'cdn' }),
    createHash: nodeRuntime.createHash,
    swarm: { blacklistMs: 300 },
  })
  // The first piece request stalls past the peer's piece timeout; every later one is served at once.
  let stalled = 0
  const server = await nodeRuntime.serve(
    async (request, env) => {
      if (new URL(request.url).pathname.startsWith('/pieces/') && stalled++ === 0) await new Promise((r) => setTimeout(r, 3_000))
      return supernode.app.fetch(request, env)
    },
    { port: 0, hostname: '127.0.0.1' },
  )
  closers.push(async () => {
    await server.close()
    await supernode.close()
  })
  const peer = await startPeer(join(dir, 'p'), [`http://127.0.0.1:${server.port}`], { pieceTimeoutMs: 1_000, concurrency: 1, backSource: false })
  closers.push(() => peer.close())
  const result = await peer.download({ url: origin.url() })
  expect(stalled).toBeGreaterThan(1)
  expect(result.bytesFromSupernode).toBe(2 * MiB)
  const { exportFile } = await import('../../cli/export-file.ts')
  await exportFile(peer.options.storage, result.storageKey, join(dir, 'out'))
  expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
}, 20_000)
