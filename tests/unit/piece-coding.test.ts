import { describe, expect, it } from 'vitest'
import type { PieceTransform } from '../../core/contract/plugin.ts'
import { createPluginSet } from '../../core/contract/plugin.ts'
import { createPieceEncoder, decodePiece } from '../../core/protocol/piece-coding.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { createPieceRoutes } from '../../core/transfer/piece-server.ts'
import compress from '../../plugins/compress/index.ts'
import encrypt from '../../plugins/encrypt/index.ts'
import storageMemory, { createMemoryStorage } from '../../plugins/storage-memory/index.ts'

const TASK = 'cd'.repeat(32)
const text = new TextEncoder().encode('a piece of very compressible text; '.repeat(20_000))
const random = crypto.getRandomValues(new Uint8Array(60_000))

async function server(transforms: readonly PieceTransform[]) {
  const storage = createMemoryStorage()
  const layout = createPieceLayout(text.byteLength + random.byteLength, text.byteLength)
  await storage.writeAt(TASK, 0, text)
  await storage.writeAt(TASK, text.byteLength, random)
  const app = createPieceRoutes({ lookup: () => ({ layout, storage, has: () => true }), transforms })
  return (piece: number, accept?: string) => app.request(`/pieces/${TASK}/${piece}`, accept ? { headers: { 'x-dragonfly-accept-coding': accept } } : {})
}

describe('piece coding negotiation', () => {
  it('sends what the receiver accepts, raw to a receiver without codecs, raw when compression does not pay', async () => {
    const get = await server(createPluginSet([storageMemory(), compress()]).transforms)
    const raw = await get(0)
    expect(raw.headers.get('x-dragonfly-coding')).toBe('identity')
    expect((await raw.arrayBuffer()).byteLength).toBe(text.byteLength)
    const gz = await get(0, 'gzip, deflate')
    expect(gz.headers.get('x-dragonfly-coding')).toBe('gzip')
    expect((await gz.arrayBuffer()).byteLength).toBeLessThan(text.byteLength / 10)
    expect((await get(0, 'deflate')).headers.get('x-dragonfly-coding')).toBe('deflate')
    expect((await get(1, 'gzip')).headers.get('x-dragonfly-coding')).toBe('identity')
  })

  it('compresses a piece once, encrypts every transfer afresh, in stage order whatever the list order', async () => {
    let compressions = 0
    const base = compress().transform!
    const counting: PieceTransform = { ...base, encode: (d, c) => (compressions++, base.encode(d, c)) }
    const sealed = encrypt({ secret: 'unit test secret 123' }).transform!
    const get = await server(createPluginSet([storageMemory(), { name: 'enc', transform: sealed }, { name: 'gz', transform: counting }]).transforms)
    const bodies: Uint8Array[] = []
    for (let i = 0; i < 3; i++) {
      const r = await get(0, 'gzip, aes256gcm')
      expect(r.headers.get('x-dragonfly-coding')).toBe('gzip+aes256gcm')
      bodies.push(new Uint8Array(await r.arrayBuffer()))
    }
    expect(compressions).toBe(1)
    expect(bodies[0]).not.toEqual(bodies[1])
    const decoded = await decodePiece([counting, sealed], bodies[2]!, 'gzip+aes256gcm', { taskId: TASK, piece: 0, size: text.byteLength })
    expect(Buffer.from(decoded).equals(text)).toBe(true)
    expect((await get(0, 'gzip')).status).toBe(406)
  })

  it('keeps compressed pieces up to cacheBytes, dropping the least recently used first, and remembers refusals', async () => {
    const encoded: number[] = []
    const base = compress().transform!
    const counting: PieceTransform = { ...base, encode: (d, c) => (encoded.push(c.piece), base.encode(d, c)) }
    const one = (await base.encode(text, { taskId: TASK, piece: 0, coding: 'gzip' }))!.byteLength
    const encoder = createPieceEncoder([counting], { cacheBytes: Math.floor(2.5 * one) })
    const send = (piece: number, data = text) => encoder.encode(data, { taskId: TASK, piece }, new Set(['gzip']))
    await send(0)
    await send(1)
    await send(0) // cached; 0 is now the most recently used
    expect(encoded).toEqual([0, 1])
    await send(2) // over the limit: 1, the least recently used, goes
    expect(encoder.cachedBytes).toBe(2 * one)
    await send(0)
    await send(1)
    expect(encoded).toEqual([0, 1, 2, 1])
    expect(encoder.cachedBytes).toBeLessThanOrEqual(2.5 * one)
    expect((await send(3, random)).coding).toBe('identity') // random bytes do not compress
    expect((await send(3, random)).coding).toBe('identity')
    expect(encoded.filter((n) => n === 3)).toHaveLength(1)
  })

  it('a receiver refuses a coding it did not offer and a decode that fails, as a bad piece', async () => {
    await expect(decodePiece([], new Uint8Array(4), 'gzip', { taskId: TASK, piece: 0 })).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' })
    const gz = compress().transform!
    await expect(decodePiece([gz], new Uint8Array([1, 2, 3, 4]), 'gzip', { taskId: TASK, piece: 0, size: 10 })).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    })
  })

  it('a small compressed bomb cannot expand past the piece size', async () => {
    const gz = compress().transform!
    const bomb = (await gz.encode(new Uint8Array(4 * 1024 * 1024), { taskId: TASK, piece: 0, coding: 'gzip' }))!
    await expect(decodePiece([gz], bomb, 'gzip', { taskId: TASK, piece: 0, size: 1024 })).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' })
  })
})
