import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPluginSet } from '../../core/contract/plugin.ts'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import authHeader from '../../plugins/auth-header/index.ts'
import sourceHttp from '../../plugins/source-http/index.ts'
import storageFs from '../../plugins/storage-fs/index.ts'
import { randomFile, tempDir } from '../helpers/cli.ts'
import { type Origin, type OriginOptions, startOrigin } from '../helpers/origin.ts'
import { type RunningSupernode, serveSupernode, startPeer } from '../helpers/swarm.ts'

const MiB = 1024 * 1024
let dir: string
const closers: (() => Promise<void>)[] = []
beforeAll(async () => {
  dir = await tempDir()
})
afterAll(async () => {
  for (const c of closers.reverse()) await c()
})

async function origin(options: OriginOptions = {}): Promise<Origin> {
  const o = await startOrigin(await randomFile(dir, 2 * MiB, `f-${closers.length}`), options)
  closers.push(() => o.close())
  return o
}

async function supernode(name: string, plugins = createPluginSet([storageFs(), sourceHttp()])): Promise<RunningSupernode> {
  const sn = await serveSupernode(join(dir, name), { plugins, storage: plugins.storage({ home: join(dir, name), namespace: 'cdn' }) })
  closers.push(() => sn.close())
  return sn
}

const register = (sn: RunningSupernode, url: string, headers?: Record<string, string>) =>
  fetch(`${sn.url}${SUPERNODE_ROUTES.register}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url, ...(headers ? { headers } : {}), peer: { address: 'http://127.0.0.1:9' } }),
  })

describe('auth-header sources rules on a supernode fetching real origins', () => {
  it('adds the matching rule headers (RegExp or string prefix) to source requests, nothing elsewhere; the user -H wins', async () => {
    const regexpOrigin = await origin({ auth: 'Bearer by-regexp' })
    const prefixOrigin = await origin({ auth: 'Bearer by-prefix' })
    const other = await origin()
    const plugins = createPluginSet([
      storageFs(),
      sourceHttp(),
      authHeader({
        sources: [
          { match: new RegExp(`:${new URL(regexpOrigin.url()).port}/file$`), headers: { authorization: 'Bearer by-regexp' } },
          { match: prefixOrigin.url(), headers: { authorization: 'Bearer by-prefix' } },
        ],
      }),
    ])
    const sn = await supernode('sn-rules', plugins)
    const peerOf = async (name: string) => {
      const peer = await startPeer(join(dir, name), [sn.url])
      closers.push(() => peer.close())
      return peer
    }
    // The peer sends no credentials: the rules on the supernode make the private origins answer.
    for (const o of [regexpOrigin, prefixOrigin, other])
      expect((await (await peerOf(`p-${o.url()}`.replace(/\W/g, ''))).download({ url: o.url() })).bytes).toBe(2 * MiB)
    expect(regexpOrigin.requests.every((r) => r.headers.authorization === 'Bearer by-regexp')).toBe(true)
    expect(prefixOrigin.requests.every((r) => r.headers.authorization === 'Bearer by-prefix')).toBe(true)
    expect(other.requests.length).toBeGreaterThan(0)
    expect(other.requests.every((r) => r.headers.authorization === undefined)).toBe(true)
    // Credentials a rule adds count as everyone's: a registrant without any is not checked against the source.
    const before = regexpOrigin.requests.length
    expect((await register(sn, regexpOrigin.url())).status).toBe(200)
    expect(regexpOrigin.requests.length).toBe(before)
    // The user's own header wins over the rule's (here a wrong one, so the source refuses it).
    const userWins = await origin({ auth: 'Bearer by-regexp' })
    const sn2 = await supernode(
      'sn-user',
      createPluginSet([storageFs(), sourceHttp(), authHeader({ sources: [{ match: userWins.url(), headers: { authorization: 'Bearer by-regexp' } }] })]),
    )
    const refused = await register(sn2, userWins.url(), { authorization: 'Bearer users-own' })
    expect(refused.status).toBeGreaterThanOrEqual(400)
    expect(userWins.requests.map((r) => r.headers.authorization)).toContain('Bearer users-own')
    expect(userWins.requests.map((r) => r.headers.authorization)).not.toContain('Bearer by-regexp')
  })
})

describe('private content by Cookie and Proxy-Authorization', () => {
  for (const [header, good] of [
    ['cookie', 'session=good'],
    ['proxy-authorization', 'Basic Z29vZDpnb29k'],
  ] as const) {
    it(`a task fetched with ${header} is handed only to registrants whose own ${header} the source accepts`, async () => {
      const o = await origin({ auth: good, authHeader: header })
      const sn = await supernode(`sn-${header}`)
      const sent = (value: string | undefined) => o.requests.filter((r) => r.headers[header] === value).length
      expect((await register(sn, o.url(), { [header]: good })).status).toBe(200)
      expect(sent(good)).toBe(1)
      const wrong = await register(sn, o.url(), { [header]: 'not-it' })
      expect(wrong.status).toBe(403)
      expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('E_FORBIDDEN')
      expect((await register(sn, o.url())).status).toBe(403)
      // Positive control: another registrant with the good value is let in, without a new source request.
      expect((await register(sn, o.url(), { [header]: good })).status).toBe(200)
      expect(sent(good)).toBe(1)
    })
  }
})
