import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { randomFile, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'
import { type RunningSupernode, serveSupernode } from '../helpers/swarm.ts'

let origin: Origin
let sn: RunningSupernode
beforeAll(async () => {
  const dir = await tempDir()
  origin = await startOrigin(await randomFile(dir, 2 * 1024 * 1024), { auth: 'Bearer s3cret' })
  sn = await serveSupernode(join(dir, 'sn'))
})
afterAll(async () => {
  await sn?.close()
  await origin?.close()
})

const register = (headers?: Record<string, string>) =>
  fetch(`${sn.url}${SUPERNODE_ROUTES.register}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: origin.url(), ...(headers ? { headers } : {}), peer: { address: 'http://127.0.0.1:9' } }),
  })
const sent = (authorization: string | undefined) => origin.requests.filter((r) => r.headers.authorization === authorization).length

it('private content: only registrants whose own credentials the source accepts get the task, each credential checked once', async () => {
  expect((await register({ authorization: 'Bearer s3cret' })).status).toBe(200)
  expect(sent('Bearer s3cret')).toBe(1)
  // The same credential as the first fetch: no further source request.
  expect((await register({ Authorization: 'Bearer s3cret' })).status).toBe(200)
  expect(sent('Bearer s3cret')).toBe(1)

  const denied = await Promise.all([1, 2, 3].map(() => register({ authorization: 'Bearer guess' })))
  for (const r of denied) {
    expect(r.status).toBe(403)
    expect(((await r.json()) as { error: { code: string } }).error.code).toBe('E_FORBIDDEN')
  }
  expect(sent('Bearer guess')).toBe(1)
  expect((await register()).status).toBe(403)
  expect((await register()).status).toBe(403)
  expect(sent(undefined)).toBe(1)
})
