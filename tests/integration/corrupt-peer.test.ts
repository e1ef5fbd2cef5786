import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, expect, it } from 'vitest'
import { Bitset } from '../../core/protocol/bitset.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'

afterAll(() => killAll())

it('a peer serving corrupted bytes is isolated and the output is still correct', async () => {
  const dir = await tempDir()
  const size = 8 * 1024 * 1024
  const file = await randomFile(dir, size)
  const origin = await startOrigin(file)
  const supernode = await startSupernode(join(dir, 'sn'), [], { DRAGONFLY_LOG_FORMAT: 'json' })
  // A liar: claims every piece (at registration and in its piece map), serves random bytes of the right length.
  let served = 0
  let claim: Bitset | undefined
  const evil = new Hono()
    .get('/pieces/:task', (c) => c.json({ count: claim?.count ?? 0, have: claim?.toBase64() ?? '' }))
    .get('/pieces/:task/:piece', (c) => {
      served++
      return c.body(randomBytes(256 * 1024), 200, { 'content-type': 'application/octet-stream' })
    })
  const evilServer = await nodeRuntime.serve(evil.fetch, { port: 0, hostname: '127.0.0.1' })
  try {
    const warm = dragonfly(['get', origin.url(), '-o', join(dir, 'warm'), '--supernode', supernode.url, '--home', join(dir, 'w'), '--json'])
    expect(await warm.done, warm.stderr).toBe(0)
    const { taskId, pieces } = parseJsonLine<{ taskId: string; pieces: number }>(warm.stdout)
    const all = new Bitset(pieces)
    for (let i = 0; i < pieces; i++) all.set(i)
    claim = all
    const reg = await fetch(`${supernode.url}${SUPERNODE_ROUTES.register}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: origin.url(), peer: { address: `http://127.0.0.1:${evilServer.port}`, have: all.toBase64(), slots: 64 } }),
    })
    expect(reg.status).toBe(200)
    const isolations = async () => sampleValue(parsePromText(await (await fetch(`${supernode.url}/metrics`)).text()), 'dragonfly_peer_isolations_total')
    expect(await isolations()).toBe(0)

    const victim = dragonfly(['get', origin.url(), '-o', join(dir, 'out'), '--supernode', supernode.url, '--home', join(dir, 'v'), '--json'])
    expect(await victim.done, victim.stderr).toBe(0)
    expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
    expect(served).toBeGreaterThan(0)
    const detail = (await (await fetch(`${supernode.url}${routePath(SUPERNODE_ROUTES.task, { taskId })}`)).json()) as {
      peers: { address: string; isolated: boolean }[]
    }
    expect(detail.peers.find((p) => p.address.endsWith(`:${evilServer.port}`))?.isolated).toBe(true)
    // Isolated after the first bad piece: the victim asked the liar for one batch at most.
    expect(served).toBeLessThanOrEqual(8)
    const isolated = supernode.run.stderr
      .split('\n')
      .filter((l) => l.includes('"peer isolated"'))
      .map((l) => JSON.parse(l))
    expect(isolated).toEqual([expect.objectContaining({ level: 'warn', taskId, address: `http://127.0.0.1:${evilServer.port}` })])
    expect(await isolations()).toBe(1)
  } finally {
    await evilServer.close()
    await supernode.stop()
    await origin.close()
  }
})

it('a piece that fails verification from every source stops the download with E_DIGEST_MISMATCH instead of asking forever', async () => {
  const { createPluginSet } = await import('../../core/contract/plugin.ts')
  const { serveSupernode, startPeer, plugins } = await import('../helpers/swarm.ts')
  const dir = await tempDir()
  const file = await randomFile(dir, 1024 * 1024)
  const origin = await startOrigin(file)
  // The supernode encodes with a transform whose decoder, on the peer, cannot read it (a plugin bug, say).
  const flip = (bytes: Uint8Array): Uint8Array => bytes.map((b) => b ^ 0xff)
  const sealing = {
    name: 'flip',
    transform: { stage: 'custom' as const, coding: 'flip', encode: async (b: Uint8Array) => flip(b), decode: async (b: Uint8Array) => flip(b) },
  }
  const broken = { name: 'flip', transform: { ...sealing.transform, decode: async (b: Uint8Array) => b } }
  const sn = await serveSupernode(join(dir, 'sn'), { plugins: createPluginSet([...plugins.plugins, sealing]), swarm: { blacklistMs: 20 } })
  const peer = await startPeer(join(dir, 'p'), [sn.url], { plugins: createPluginSet([...plugins.plugins, broken]), backSource: false })
  try {
    const started = Date.now()
    const error = await peer.download({ url: origin.url() }).then(
      () => null,
      (e: unknown) => e as { code?: string; message?: string },
    )
    expect(error?.code).toBe('E_DIGEST_MISMATCH')
    expect(error?.message).toMatch(/failed verification 8 times/)
    expect(Date.now() - started).toBeLessThan(20_000)
  } finally {
    await peer.close()
    await sn.close()
    await origin.close()
  }
})
