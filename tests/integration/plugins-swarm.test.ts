import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPluginSet } from '../../core/contract/plugin.ts'
import type { Peer } from '../../core/peer/peer.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import authHeader from '../../plugins/auth-header/index.ts'
import compress from '../../plugins/compress/index.ts'
import encrypt from '../../plugins/encrypt/index.ts'
import sourceHttp from '../../plugins/source-http/index.ts'
import storageFs from '../../plugins/storage-fs/index.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'
import { type RunningSupernode, serveSupernode, startPeer } from '../helpers/swarm.ts'

const TOKEN = 'cluster-token-for-tests'
const SIZE = 6 * 1024 * 1024
const MARKER = 'dragonfly-plaintext-marker'
// encrypt listed first on purpose: stages put compression before encryption anyway.
const plugins = createPluginSet([encrypt({ secret: 'a test secret of some length' }), storageFs(), sourceHttp(), compress(), authHeader({ token: TOKEN })])
const auth = { authorization: `Bearer ${TOKEN}` }

function textContent(size: number): Buffer {
  const words = ['piece', 'swarm', 'supernode', 'peer', 'digest', 'layer', 'image', 'registry', 'schedule', 'transfer']
  const lines: string[] = []
  let length = 0
  for (let i = 0; length < size; i++) {
    const line = `${i} ${MARKER} ${words[i % 10]} ${words[(i * 7) % 10]} ${(i * 2654435761) % 1000003}\n`
    lines.push(line)
    length += line.length
  }
  return Buffer.from(lines.join('')).subarray(0, size)
}

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

async function contentOf(peer: Peer, key: string, size: number): Promise<string> {
  return sha256(await peer.options.storage.readAt(key, 0, size))
}

describe('compress + encrypt + auth-header + storage-fs, in-process swarm on real sockets', () => {
  let dir: string
  let text: Buffer
  let random: Buffer
  let textOrigin: Origin
  let randomOrigin: Origin
  let sn: RunningSupernode
  const peers: Peer[] = []
  beforeAll(async () => {
    dir = await tempDir()
    text = textContent(SIZE)
    random = randomBytes(SIZE)
    await writeFile(join(dir, 'text.txt'), text)
    await writeFile(join(dir, 'random.bin'), random)
    textOrigin = await startOrigin(join(dir, 'text.txt'))
    randomOrigin = await startOrigin(join(dir, 'random.bin'))
    sn = await serveSupernode(join(dir, 'sn'), { plugins, storage: plugins.storage({ home: join(dir, 'sn'), namespace: 'cdn' }) })
  })
  afterAll(async () => {
    await Promise.allSettled(peers.map((p) => p.close()))
    await sn?.close()
    await textOrigin?.close()
    await randomOrigin?.close()
  })

  const newPeer = async (name: string): Promise<Peer> => {
    const peer = await startPeer(join(dir, name), [sn.url], { plugins, storage: plugins.storage({ home: join(dir, name), namespace: 'peer' }) })
    peers.push(peer)
    return peer
  }

  it('peers get identical files; text travels compressed, random bytes travel at ~1.0x', async () => {
    const [a, b, c] = [await newPeer('a'), await newPeer('b'), await newPeer('c')]
    const results = await Promise.all([a, b, c].map((p) => p.download({ url: textOrigin.url() })))
    for (const [i, p] of [a, b, c].entries()) expect(await contentOf(p, results[i]!.storageKey, SIZE)).toBe(sha256(text))
    for (const r of results) expect(r.wireBytes).toBeLessThan(SIZE * 0.5)
    const randomResults = await Promise.all([a, b].map((p) => p.download({ url: randomOrigin.url() })))
    for (const [i, p] of [a, b].entries()) expect(await contentOf(p, randomResults[i]!.storageKey, SIZE)).toBe(sha256(random))
    console.log(
      `wire: text ${results.map((r) => (r.wireBytes / SIZE).toFixed(3)).join(' ')}x, random ${randomResults.map((r) => (r.wireBytes / SIZE).toFixed(4)).join(' ')}x of ${SIZE} B`,
    )
    // Random pieces travel raw plus IV and tag (not compressed: at least the file). End-game may fetch
    // each of the last pieces (up to its threshold of 4) twice when both copies land at once.
    const pieceSize = createPieceLayout(SIZE).pieceSize
    for (const r of randomResults) {
      expect(r.wireBytes).toBeGreaterThanOrEqual(SIZE)
      expect(r.wireBytes).toBeLessThan(SIZE * 1.02 + 4 * pieceSize)
    }
  })

  it('the API and a peer piece server answer 401 without the token; /healthz stays open', async () => {
    const peer = peers[0]!
    const api = await fetch(`${sn.url}/api/v1/tasks`)
    expect(api.status).toBe(401)
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHORIZED')
    expect((await fetch(`${sn.url}/api/v1/tasks`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401)
    expect((await fetch(`${sn.url}/api/v1/tasks`, { headers: auth })).status).toBe(200)
    const taskId = [...peer.tasks.keys()][0]!
    const piece = await fetch(`${peer.address}/pieces/${taskId}/0`)
    expect(piece.status).toBe(401)
    expect(((await piece.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHORIZED')
    expect((await fetch(`${sn.url}/healthz`)).status).toBe(200)
  })

  it('piece bodies on the wire do not contain the plaintext; a receiver without the cipher is refused', async () => {
    const tasks = (await (await fetch(`${sn.url}/api/v1/tasks`, { headers: auth })).json()) as { tasks: { taskId: string; url: string }[] }
    const taskId = tasks.tasks.find((t) => t.url === textOrigin.url())!.taskId
    for (const accept of ['aes256gcm', 'gzip, aes256gcm']) {
      const response = await fetch(`${sn.url}/pieces/${taskId}/0`, { headers: { ...auth, 'x-dragonfly-accept-coding': accept } })
      expect(response.status).toBe(200)
      expect(response.headers.get('x-dragonfly-coding')).toBe(accept === 'aes256gcm' ? 'aes256gcm' : 'gzip+aes256gcm')
      expect(Buffer.from(await response.arrayBuffer()).includes(MARKER)).toBe(false)
    }
    const refused = await fetch(`${sn.url}/pieces/${taskId}/0`, { headers: { ...auth, 'x-dragonfly-accept-coding': 'gzip' } })
    expect(refused.status).toBe(406)
  })

  it('a flipped ciphertext byte is rejected and the piece is fetched elsewhere; the tamperer is isolated', async () => {
    const warm = peers[0]!
    const taskId = [...warm.tasks.keys()].find((id) => warm.tasks.get(id)!.layout.contentLength === SIZE)!
    const pieceCount = warm.tasks.get(taskId)!.layout.pieceCount
    let tampered = 0
    const all = new Bitset(pieceCount)
    for (let i = 0; i < pieceCount; i++) all.set(i)
    // It claims every piece in its piece map too (the parents protocol's have-announcements).
    const evil = new Hono().get('/pieces/:task', (c) => c.json({ count: all.count, have: all.toBase64() }))
    evil.get('/pieces/:task/:piece', async (c) => {
      const upstream = await fetch(`${sn.url}/pieces/${c.req.param('task')}/${c.req.param('piece')}`, {
        headers: { ...auth, 'x-dragonfly-accept-coding': c.req.header('x-dragonfly-accept-coding') ?? '' },
      })
      const body = new Uint8Array(await upstream.arrayBuffer())
      body[body.length >> 1]! ^= 0x01
      tampered++
      return c.body(body, 200, { 'x-dragonfly-coding': upstream.headers.get('x-dragonfly-coding') ?? 'identity' })
    })
    const server = await nodeRuntime.serve(evil.fetch, { port: 0, hostname: '127.0.0.1' })
    const evilAddress = `http://127.0.0.1:${server.port}`
    try {
      const reg = await fetch(`${sn.url}/api/v1/tasks/register`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ url: textOrigin.url(), peer: { address: evilAddress, have: all.toBase64(), slots: 64 } }),
      })
      expect(reg.status).toBe(200)
      // The honest peers leave, so the tamperer and the supernode are the only holders.
      for (const p of peers) await p.leave(taskId)
      const victim = await newPeer('victim')
      const result = await victim.download({ url: textOrigin.url() })
      expect(await contentOf(victim, result.storageKey, SIZE)).toBe(sha256(text))
      expect(tampered).toBeGreaterThan(0)
      const detail = (await (await fetch(`${sn.url}/api/v1/tasks/${taskId}`, { headers: auth })).json()) as { peers: { address: string; isolated: boolean }[] }
      expect(detail.peers.find((p) => p.address === evilAddress)?.isolated).toBe(true)
    } finally {
      await server.close()
    }
  })
})
