import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, expect, it } from 'vitest'
import { Bitset } from '../../core/protocol/bitset.ts'
import { PEER_SECRET_HEADER } from '../../core/protocol/peer-secret.ts'
import { DAEMON_ROUTES, routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { killAll, randomFile, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'

// Issue 20 item 2: a peer cannot steer the swarm (where others connect, who is isolated, the counters).
afterAll(() => killAll())

interface Detail {
  peers: { id: string; address: string; isolated: boolean }[]
}
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
const detail = async (sn: string, taskId: string) => (await (await fetch(`${sn}${routePath(SUPERNODE_ROUTES.task, { taskId })}`)).json()) as Detail

it("a registrant cannot give someone else's host as its address, unless the supernode is told to trust advertised addresses", async () => {
  const dir = await tempDir()
  const origin = await startOrigin(await randomFile(dir, 64 * 1024))
  const strict = await startSupernode(join(dir, 'strict'))
  const trusting = await startSupernode(join(dir, 'trusting'), ['--trust-advertised-address'])
  try {
    for (const advertised of ['http://127.0.0.2:4711', 'http://victim.example:4711']) {
      const res = await post(`${strict.url}${SUPERNODE_ROUTES.register}`, { url: origin.url(), peer: { address: advertised } })
      expect(res.status).toBe(200)
      const { taskId, peerId, address } = (await res.json()) as { taskId: string; peerId: string; address: string }
      // The host the registration came from, with the port the peer chose.
      expect(address).toBe('http://127.0.0.1:4711')
      expect((await detail(strict.url, taskId)).peers.find((p) => p.id === peerId)?.address).toBe('http://127.0.0.1:4711')
    }
    // Positive control: behind NAT or a proxy the operator trusts what peers advertise.
    const res = await post(`${trusting.url}${SUPERNODE_ROUTES.register}`, { url: origin.url(), peer: { address: 'http://127.0.0.2:4711' } })
    const { taskId, peerId } = (await res.json()) as { taskId: string; peerId: string }
    expect((await detail(trusting.url, taskId)).peers.find((p) => p.id === peerId)?.address).toBe('http://127.0.0.2:4711')
  } finally {
    await strict.stop()
    await trusting.stop()
    await origin.close()
  }
})

it('a forged bad-digest report isolates nobody; a real liar is isolated after the supernode checked its bytes, in that task only', async () => {
  const dir = await tempDir()
  const first = await randomFile(dir, 2 * 1024 * 1024, 'a.bin')
  const second = await randomFile(dir, 1024 * 1024, 'b.bin')
  const originA = await startOrigin(first)
  const originB = await startOrigin(second)
  const sn = await startSupernode(join(dir, 'sn'))
  // A liar: claims every piece, serves random bytes of a piece's length.
  let claim = ''
  const liar = new Hono()
    .get('/pieces/:task', (c) => c.json({ count: 1, have: claim }))
    .get('/pieces/:task/:piece', (c) => c.body(randomBytes(256 * 1024), 200, { 'content-type': 'application/octet-stream' }))
  const liarServer = await nodeRuntime.serve(liar.fetch, { port: 0, hostname: '127.0.0.1' })
  // The honest peer: a daemon that downloaded the file and seeds it from its upload port.
  const daemon = await startDaemon(join(dir, 'd'), sn.url)
  try {
    const got = await post(`${daemon.url}${DAEMON_ROUTES.download}`, { url: originA.url() })
    expect(got.status).toBe(200)
    await got.arrayBuffer()
    const taskA = got.headers.get('x-dragonfly-task-id')!
    const honest = (await detail(sn.url, taskA)).peers[0]!
    expect(honest.isolated).toBe(false)

    const { pieceCount } = (await (await fetch(`${sn.url}${routePath(SUPERNODE_ROUTES.task, { taskId: taskA })}`)).json()) as { pieceCount: number }
    const all = new Bitset(pieceCount)
    for (let i = 0; i < pieceCount; i++) all.set(i)
    claim = all.toBase64()
    const liarAddress = `http://127.0.0.1:${liarServer.port}`
    const liarReg = (await (
      await post(`${sn.url}${SUPERNODE_ROUTES.register}`, { url: originA.url(), peer: { address: liarAddress, have: claim } })
    ).json()) as {
      peerId: string
    }
    // The attacker: a registered peer that reports both the honest peer and the liar as serving bad bytes.
    const attacker = (await (await post(`${sn.url}${SUPERNODE_ROUTES.register}`, { url: originA.url(), peer: { address: 'http://127.0.0.1:9' } })).json()) as {
      peerId: string
      peerSecret: string
    }
    const report = await post(
      `${sn.url}${routePath(SUPERNODE_ROUTES.sync, { taskId: taskA })}`,
      {
        peerId: attacker.peerId,
        failed: [
          { from: honest.id, error: 'digest', piece: 0 },
          { from: liarReg.peerId, error: 'digest', piece: 0 },
        ],
      },
      { [PEER_SECRET_HEADER]: attacker.peerSecret },
    )
    expect(report.status).toBe(200)
    const deadline = Date.now() + 10_000
    let peers = (await detail(sn.url, taskA)).peers
    while (!peers.find((p) => p.id === liarReg.peerId)?.isolated && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100))
      peers = (await detail(sn.url, taskA)).peers
    }
    // Positive control: the liar's bytes failed the supernode's own check.
    expect(peers.find((p) => p.id === liarReg.peerId)?.isolated).toBe(true)
    // The honest peer served the disputed piece intact: the report alone isolates nobody.
    expect(peers.find((p) => p.id === honest.id)?.isolated).toBe(false)
    // Not isolated on the word of a peer that is not registered either.
    const stranger = await post(`${sn.url}${routePath(SUPERNODE_ROUTES.sync, { taskId: taskA })}`, {
      peerId: crypto.randomUUID(),
      failed: [{ from: honest.id, error: 'digest' }],
    })
    expect(stranger.status).toBe(404)

    // Per task: the liar's address registering in another task is not isolated there.
    const inB = (await (await post(`${sn.url}${SUPERNODE_ROUTES.register}`, { url: originB.url(), peer: { address: liarAddress } })).json()) as {
      taskId: string
      peerId: string
    }
    expect((await detail(sn.url, inB.taskId)).peers.find((p) => p.id === inB.peerId)?.isolated).toBe(false)

    // Bounded reports: 1e308 bytes is refused and the counters stay finite.
    const huge = await post(`${sn.url}${SUPERNODE_ROUTES.backToSource}`, { url: originA.url(), bytes: 1e308 })
    expect(huge.status).toBe(400)
    const metrics = parsePromText(await (await fetch(`${sn.url}/metrics`)).text())
    expect(Number.isFinite(sampleValue(metrics, 'dragonfly_back_to_source_bytes_total'))).toBe(true)
    expect(sampleValue(metrics, 'dragonfly_peer_isolations_total')).toBe(1)
  } finally {
    await daemon.stop()
    await liarServer.close()
    await sn.stop()
    await originA.close()
    await originB.close()
  }
})
