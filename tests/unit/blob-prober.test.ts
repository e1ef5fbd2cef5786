import { expect, it } from 'vitest'
import { createBlobProber } from '../../core/daemon/registry-upstream.ts'

const hangUp = () => new TypeError('fetch failed', { cause: new Error('socket hang up') })

it('a blob probe whose kept-alive connection the registry closed is sent once more, so the pull goes on', async () => {
  let calls = 0
  const connect = (async () => {
    if (calls++ === 0) throw hangUp()
    return new Response(null, { status: 200 })
  }) as typeof fetch
  const probe = createBlobProber(connect)
  await expect(probe('http://registry.test/v2/a/blobs/sha256:1', new Headers())).resolves.toMatchObject({ status: 200 })
  expect(calls).toBe(2)
})

it('a registry that cannot be reached twice in a row still fails the probe with E_SOURCE_UNREACHABLE', async () => {
  let calls = 0
  const connect = (async () => {
    calls++
    throw hangUp()
  }) as typeof fetch
  const probe = createBlobProber(connect)
  await expect(probe('http://registry.test/v2/a/blobs/sha256:2', new Headers())).rejects.toMatchObject({ code: 'E_SOURCE_UNREACHABLE' })
  expect(calls).toBe(2)
})
