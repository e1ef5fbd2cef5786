import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import type { ParentDto, SyncResponse } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { decodeDigestRun, encodeDigestRun } from '../../core/protocol/digest-run.ts'
import { parentsTag } from '../../core/protocol/parents-tag.ts'
import { PEER_SECRET_HEADER } from '../../core/protocol/peer-secret.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { killAll, randomFile, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

// Source egress (issue 21): a periodic sync answer repeats the parent list only when it changed.
afterAll(() => killAll())

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })

it('parentsTag names a list whatever its order, and tells lists apart', () => {
  const a: ParentDto = { id: 'a', address: 'http://127.0.0.1:1' }
  const b: ParentDto = { id: 'b', address: 'http://127.0.0.1:2', location: 'r|z|k' }
  expect(parentsTag([a, b])).toBe(parentsTag([b, a]))
  expect(parentsTag([a, b])).toMatch(/^[0-9a-f]{16}$/)
  expect(parentsTag([a])).not.toBe(parentsTag([a, b]))
  expect(parentsTag([a, { ...b, address: 'http://127.0.0.1:3' }])).not.toBe(parentsTag([a, b]))
  expect(parentsTag([a, { ...b, location: 'r|z|j' }])).not.toBe(parentsTag([a, b]))
})

it('a digest run stops at the first unknown digest and says whether a later one is known', () => {
  const d = (c: string) => c.repeat(64)
  const run = encodeDigestRun([d('a'), d('b'), undefined, undefined], 0, 10)
  expect(run).toMatchObject({ count: 2, complete: true })
  expect(decodeDigestRun(run.base64, 10)).toEqual([d('a'), d('b')])
  expect(encodeDigestRun([d('a'), undefined, d('c')], 0, 10)).toMatchObject({ count: 1, complete: false })
  expect(encodeDigestRun([d('a'), d('b'), d('c')], 1, 1)).toMatchObject({ count: 1, complete: true })
  expect(encodeDigestRun([undefined, d('b')], 0, 10)).toMatchObject({ count: 0, complete: false })
  // A malformed digest ends the run (the caller sends the list form), it does not throw.
  expect(encodeDigestRun([d('a'), 'XYZ', d('c')], 0, 10)).toMatchObject({ count: 1, complete: false })
  // What a peer refuses: not base64, not whole digests, more than it asked for.
  expect(decodeDigestRun('not base64!', 10)).toBeNull()
  expect(decodeDigestRun(Buffer.alloc(31).toString('base64'), 10)).toBeNull()
  expect(decodeDigestRun(Buffer.alloc(64).toString('base64'), 1)).toBeNull()
  expect(decodeDigestRun('', 10)).toEqual([])
})

it('a sync that names the parent list it holds gets no list back until the list changes', async () => {
  const dir = await tempDir()
  const origin = await startOrigin(await randomFile(dir, 1024 * 1024))
  const sn = await startSupernode(join(dir, 'sn'))
  try {
    const register = async (address: string, have?: string) =>
      (await (await post(`${sn.url}${SUPERNODE_ROUTES.register}`, { url: origin.url(), peer: { address, ...(have ? { have } : {}) } })).json()) as {
        taskId: string
        peerId: string
        peerSecret: string
        pieceCount: number
      }
    const child = await register('http://127.0.0.1:9')
    const all = new Bitset(child.pieceCount)
    for (let n = 0; n < child.pieceCount; n++) all.set(n)
    const holder = await register('http://127.0.0.1:10', all.toBase64())
    const sync = async (extra: Record<string, unknown>): Promise<SyncResponse> => {
      const res = await post(
        `${sn.url}${routePath(SUPERNODE_ROUTES.sync, { taskId: child.taskId })}`,
        { peerId: child.peerId, digestsFrom: 0, ...extra },
        { [PEER_SECRET_HEADER]: child.peerSecret },
      )
      expect(res.status).toBe(200)
      return (await res.json()) as SyncResponse
    }

    const first = await sync({})
    expect(first.parents?.map((p) => p.id)).toContain(holder.peerId)
    expect(first.parentsTag).toBe(parentsTag(first.parents!))

    const same = await sync({ parentsTag: first.parentsTag })
    expect(same.parents).toBeUndefined()
    expect(same.parentsTag).toBe(first.parentsTag)

    // A tag of another list (or none, as older peers send) gets the whole list.
    const other = await sync({ parentsTag: '0123456789abcdef' })
    expect(other.parents?.map((p) => p.id)).toEqual(first.parents?.map((p) => p.id))
    expect((await sync({})).parents).toBeDefined()

    // The list changes (a second holder registers): the answer carries it, whatever tag the peer sent.
    const second = await register('http://127.0.0.1:11', all.toBase64())
    const changed = await sync({ parentsTag: first.parentsTag })
    expect(changed.parents?.map((p) => p.id)).toEqual(expect.arrayContaining([holder.peerId, second.peerId]))
    expect(changed.parentsTag).not.toBe(first.parentsTag)

    // The compact digests (raw, base64) say what the hex list says, in two thirds of the bytes.
    // Once the supernode read the whole file from the source (a few ms here), every digest is known.
    let asList = await sync({})
    for (const deadline = Date.now() + 10_000; asList.digests.length < child.pieceCount && Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50))
      asList = await sync({})
    }
    const compact = await sync({ digestsAs: 'base64' })
    expect(compact.digests).toEqual([])
    expect(decodeDigestRun(compact.digestsBase64!, child.pieceCount)).toEqual(asList.digests)
    expect(asList.digests).toHaveLength(child.pieceCount)
    expect(compact.digestsBase64!.length).toBeLessThan(JSON.stringify(asList.digests).length * 0.7)
    // A supernode answers the list form to a peer that does not ask (older peers).
    expect(asList.digestsBase64).toBeUndefined()

    // A malformed tag is refused with a code, not taken as "some other list".
    const bad = await post(
      `${sn.url}${routePath(SUPERNODE_ROUTES.sync, { taskId: child.taskId })}`,
      { peerId: child.peerId, parentsTag: 'not-a-tag' },
      { [PEER_SECRET_HEADER]: child.peerSecret },
    )
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('E_BAD_REQUEST')
  } finally {
    await sn.stop()
    await origin.close()
  }
})
