import { describe, expect, it } from 'vitest'
import storageMemory, { createMemoryStorage } from '../../plugins/storage-memory/index.ts'
import { testStorage } from '../../testing/index.ts'
import { optionError } from '../helpers/option-error.ts'

const KEY = 'ef'.repeat(32)
const context = { home: '/nonexistent', namespace: 'peer' } as const

describe('storage-memory', () => {
  it('passes testStorage in both namespaces', async () => {
    await testStorage(storageMemory(), { context })
    await testStorage(storageMemory({ maxBytes: 1 << 20 }), { context: { ...context, namespace: 'cdn' } })
  })

  it('gives each namespace its own store', async () => {
    const plugin = storageMemory()
    const peer = plugin.storage(context)
    await peer.setMeta(KEY, { n: 1 })
    expect(await plugin.storage({ ...context, namespace: 'cdn' }).getMeta(KEY)).toBeNull()
    expect(await peer.getMeta(KEY)).toEqual({ n: 1 })
  })

  it('refuses writes past maxBytes with E_IO, counts usage, and frees on remove', async () => {
    const storage = storageMemory({ maxBytes: 1000 }).storage(context)
    await storage.writeAt(KEY, 0, new Uint8Array(600))
    await expect(storage.writeAt(KEY, 600, new Uint8Array(401))).rejects.toMatchObject({ code: 'E_IO' })
    await storage.writeAt(KEY, 600, new Uint8Array(400))
    expect(await storage.usage!()).toBe(1000)
    await storage.remove(KEY)
    expect(await storage.usage!()).toBe(0)
    // No limit by default.
    await createMemoryStorage().writeAt(KEY, 0, new Uint8Array(8 << 20))
  })

  it('refuses misspelt and mistyped options', () => {
    expect(optionError(() => storageMemory({ maxbytes: 10 } as never))).toMatch(/^storage-memory: unknown option `maxbytes` \(did you mean `maxBytes`\?\)/)
    expect(optionError(() => storageMemory({ maxBytes: '1MB' } as never))).toBe('storage-memory: option `maxBytes` must be a number, got a string')
    expect(optionError(() => createMemoryStorage({ maxBytes: -1 }))).toMatch(/option `maxBytes` must be at least 0/)
  })
})
