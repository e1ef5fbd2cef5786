import { describe, expect, it } from 'vitest'
import { createPluginSet } from '../../core/contract/plugin.ts'
import { credentialHash, SourceAccess } from '../../core/source/source-access.ts'
import storageMemory from '../../plugins/storage-memory/index.ts'

/** A source that admits `Authorization: good`, refuses other credentials, and answers 500 to `Authorization: broken`. */
function source() {
  const asked: string[] = []
  let release: () => void = () => {}
  let gate = Promise.resolve()
  const plugins = createPluginSet([
    storageMemory(),
    {
      name: 'counting-source',
      source: {
        protocols: ['http:'],
        async fetch(request) {
          const auth = new Headers(request.headers).get('authorization') ?? ''
          asked.push(auth)
          await gate
          return new Response(null, { status: auth === 'good' ? 200 : auth === 'broken' ? 500 : 403 })
        },
      },
    },
  ])
  const hold = () => (gate = new Promise<void>((done) => (release = done)))
  return { plugins, asked, hold, release: () => release() }
}

const url = 'http://registry.test/v2/app/blobs/sha256:aa'
const as = (auth: string) => ({ url, headers: { authorization: auth } })

describe('private content: credentials checked against the source', () => {
  it('asks once per credential, shared by concurrent registrants, and keeps the answer for the TTL', async () => {
    const s = source()
    const access = new SourceAccess(s.plugins, { ttlMs: 60_000 })
    const task = { taskId: 't1', credential: await credentialHash({ authorization: 'owner' }) }
    s.hold()
    const first = Promise.all([access.admit(task, as('good')), access.admit(task, as('good'))])
    const refused = Promise.allSettled([access.admit(task, as('bad')), access.admit(task, as('bad'))])
    s.release()
    await first
    expect((await refused).map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code)).toEqual(['E_FORBIDDEN', 'E_FORBIDDEN'])
    await access.admit(task, as('good'))
    await expect(access.admit(task, as('bad'))).rejects.toMatchObject({ code: 'E_FORBIDDEN' })
    expect(s.asked.sort()).toEqual(['bad', 'good'])
    await access.admit(task, { url, headers: { authorization: 'owner' } }) // the fetching credential is never asked about
    expect(s.asked).toHaveLength(2)
  })

  it('asks again after the TTL, does not keep a failed check, and holds at most maxVerdicts answers', async () => {
    const s = source()
    const access = new SourceAccess(s.plugins, { ttlMs: 50, maxVerdicts: 2 })
    const task = { taskId: 't2', credential: '*' }
    await expect(access.admit(task, as('broken'))).rejects.toMatchObject({ code: 'E_SOURCE_STATUS' })
    await expect(access.admit(task, as('broken'))).rejects.toMatchObject({ code: 'E_SOURCE_STATUS' })
    expect(s.asked).toEqual(['broken', 'broken'])
    await access.admit(task, as('good'))
    await access.admit(task, as('good'))
    expect(s.asked.filter((a) => a === 'good')).toHaveLength(1)
    await expect.poll(async () => (await access.admit(task, as('good')), s.asked.filter((a) => a === 'good').length), { interval: 20 }).toBe(2)
    // Registrants choose their credentials: three more push the oldest answer out of a cache of two.
    for (const auth of ['x1', 'x2', 'x3']) await expect(access.admit(task, as(auth))).rejects.toMatchObject({ code: 'E_FORBIDDEN' })
    await expect(access.admit(task, as('x3'))).rejects.toMatchObject({ code: 'E_FORBIDDEN' })
    expect(s.asked.filter((a) => a === 'x3')).toHaveLength(1) // control: a kept answer is not asked again
    await expect(access.admit(task, as('x1'))).rejects.toMatchObject({ code: 'E_FORBIDDEN' })
    expect(s.asked.filter((a) => a === 'x1')).toHaveLength(2)
  })
})
