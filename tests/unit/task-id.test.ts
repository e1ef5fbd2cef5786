import { describe, expect, it } from 'vitest'
import { computeTaskId, normalizeTaskUrl, parseFilter } from '../../core/protocol/task-id.ts'
import { createSha256 } from '../../runtime/node-hash.ts'

describe('task id', () => {
  const url = 'https://cdn.example.com/layer.tar?Expires=1&Signature=abc&v=2'

  it('is 64 hex characters and stable', async () => {
    const id = await computeTaskId({ url })
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(await computeTaskId({ url })).toBe(id)
  })

  it('drops filtered query parameters, so signed URLs of the same content share a task', async () => {
    const filter = parseFilter('Expires&Signature')
    const a = await computeTaskId({ url, filter })
    const b = await computeTaskId({ url: 'https://cdn.example.com/layer.tar?Expires=9&Signature=zzz&v=2', filter })
    expect(a).toBe(b)
    expect(await computeTaskId({ url: 'https://cdn.example.com/layer.tar?Expires=9&Signature=zzz&v=3', filter })).not.toBe(a)
    expect(await computeTaskId({ url })).not.toBe(a)
  })

  it('includes digest and tag', async () => {
    const digest = `sha256:${'a'.repeat(64)}`
    const plain = await computeTaskId({ url })
    expect(await computeTaskId({ url, digest })).not.toBe(plain)
    expect(await computeTaskId({ url, tag: 'x' })).not.toBe(plain)
    expect(await computeTaskId({ url, digest: digest.toUpperCase().replace('SHA256', 'sha256') })).toBe(await computeTaskId({ url, digest }))
  })

  it('ignores the fragment and rejects what is not a URL or a digest', async () => {
    expect(normalizeTaskUrl('http://h/a#frag')).toBe('http://h/a')
    await expect(computeTaskId({ url: 'not a url' })).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' })
    await expect(computeTaskId({ url, digest: 'md5:abc' })).rejects.toMatchObject({ code: 'E_BAD_ARGUMENT' })
  })

  it("is the same id with the runtime's synchronous hasher as with crypto.subtle", async () => {
    const identity = { url, filter: ['Signature'], digest: `sha256:${'AB'.repeat(32)}`, tag: 'v1' }
    const id = await computeTaskId(identity, createSha256)
    expect(id).toBe(await computeTaskId(identity))
    expect(id).not.toBe(await computeTaskId({ ...identity, tag: 'v2' }, createSha256))
  })

  it('parses filters separated by & or ,', () => {
    expect(parseFilter('a&b, c')).toEqual(['a', 'b', 'c'])
    expect(parseFilter(undefined)).toEqual([])
  })
})
