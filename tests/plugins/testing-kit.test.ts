import { describe, expect, it } from 'vitest'
import type { ClusterStore } from '../../core/contract/cluster-store.ts'
import type { DragonflyPlugin, PluginHooks } from '../../core/contract/plugin.ts'
import { createError } from '../../core/errors.ts'
import { PluginConformanceError, testClusterStore, testHooks, testTransform } from '../../testing/index.ts'
import { createMemoryClusterStore } from '../helpers/memory-cluster-store.ts'

/** The failures a conformance check reports; fails the test when the check passes. */
async function failures(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error, 'the check passed').toBeInstanceOf(PluginConformanceError)
  return (error as PluginConformanceError).failures.join('\n')
}

const API = 'http://127.0.0.1:65001/api/v1/tasks'
const bearer = (token: string): PluginHooks => ({
  outgoingHeaders: () => ({ authorization: `Bearer ${token}` }),
  checkRequest(request) {
    if (request.headers.get('authorization') !== `Bearer ${token}`) throw createError('E_UNAUTHORIZED', 'no token')
  },
})

describe('testClusterStore', () => {
  it('passes the in-memory store the unit tests use', async () => {
    const store = createMemoryClusterStore()
    const names = await testClusterStore(() => store, { ttlMs: 100 })
    expect(names.length).toBeGreaterThanOrEqual(9)
  })

  it('fails a store that ignores TTLs, naming each kind of entry that outlives its TTL', async () => {
    const store = createMemoryClusterStore()
    const forever = 3_600_000
    const ageless: ClusterStore = {
      ...store,
      announce: (id, value) => store.announce(id, value, forever),
      acquireLease: (task, owner) => store.acquireLease(task, owner, forever),
      putTask: (task, record) => store.putTask(task, record, forever),
      putDigests: (task, digests) => store.putDigests(task, digests, forever),
      putMembers: (task, sn, members) => store.putMembers(task, sn, members, forever),
    }
    const report = await failures(testClusterStore(() => ageless, { ttlMs: 50, expirySlackMs: 300 }))
    for (const what of ['an announcement', 'a lease', 'a task record', 'digests', 'members']) expect(report).toContain(`${what} with a 50 ms TTL`)
  })

  it('fails a store whose leases ignore the owner, and one each connection sees alone', async () => {
    const store = createMemoryClusterStore()
    const careless: ClusterStore = {
      ...store,
      renewLease: async () => true,
      releaseLease: (task) => store.releaseLease(task, (store.raw.get(`lease:${task}`) as string) ?? ''),
    }
    const report = await failures(testClusterStore(() => careless))
    expect(report).toMatch(/only the holder renews or releases.*another owner renewed a held lease/)
    expect(await failures(testClusterStore(() => createMemoryClusterStore()))).toMatch(/the other connection does not list the announcement/)
  })
})

describe('testHooks', () => {
  it('passes a bearer-token hook pair', async () => {
    await testHooks(bearer('t0k3n'), { outgoing: { url: API, adds: { Authorization: 'Bearer t0k3n' } } })
  })

  it('fails a refusal without a code, a check that reads the body, and a check that refuses its own node', async () => {
    const plain: PluginHooks = {
      ...bearer('t'),
      checkRequest: () => {
        throw new Error('nope')
      },
    }
    expect(await failures(testHooks(plain))).toMatch(/not a DragonflyError: the server would answer 500/)
    const reader: PluginHooks = { ...bearer('t'), checkRequest: async (request) => void (await request.text()) }
    expect(await failures(testHooks(reader, { refuses: [] }))).toMatch(/read the body/)
    const strict: PluginHooks = {
      ...bearer('t'),
      checkRequest: () => {
        throw createError('E_FORBIDDEN', 'closed')
      },
    }
    expect(await failures(testHooks(strict))).toMatch(/lets through .*was refused: closed/)
    const server: PluginHooks = {
      checkRequest: () => {
        throw createError('E_INTERNAL', 'oops')
      },
    }
    expect(await failures(testHooks(server))).toMatch(/E_INTERNAL \(HTTP 500\), not a 4xx code[\s\S]*nothing to let through/)
  })

  it("fails header hooks that change the caller's headers, return non-strings, or miss what the author expects", async () => {
    const meddling: PluginHooks = { sourceHeaders: (_url, headers) => void (headers.accept = 'text/html') }
    expect(await failures(testHooks(meddling))).toMatch(/changed the headers it was given/)
    const numeric = { outgoingHeaders: () => ({ 'x-n': 1 }) } as unknown as PluginHooks
    expect(await failures(testHooks(numeric))).toMatch(/header x-n as number/)
    const leaky: PluginHooks = { sourceHeaders: () => ({ authorization: 'Basic x' }) }
    const report = await failures(
      testHooks(leaky, { source: { url: 'https://a.example/f', adds: { authorization: 'Basic x' }, unmatchedUrl: 'https://b.example/f' } }),
    )
    expect(report).toMatch(/header authorization also sent toward https:\/\/b\.example\/f/)
    expect(await failures(testHooks({}, { outgoing: { url: API, adds: { a: 'b' } } }))).toMatch(/no outgoingHeaders hook/)
  })
})

describe('testTransform', () => {
  it('fails a broken transform, listing what broke', async () => {
    const broken: DragonflyPlugin = {
      name: 'broken',
      transform: { stage: 'custom', coding: 'rev', encode: async (d) => d.slice().reverse(), decode: async (d) => d },
    }
    expect(await failures(testTransform(broken))).toMatch(/round trip differs/)
  })
})
