import type { ClusterBackend, ClusterStore } from '../core/contract/cluster-store.ts'
import type { DragonflyPlugin } from '../core/contract/plugin.ts'
import { assert, type Check, eventually, randomId, runChecks, slotOf } from './checks.ts'

export interface TestClusterStoreOptions {
  /** The `--cluster` URL to connect to; required when given a plugin or a `ClusterBackend`. */
  url?: string
  /** The short TTL the expiry checks use; the store must forget an entry within it plus `expirySlackMs`. @default 200 */
  ttlMs?: number
  /** @default 2000 */
  expirySlackMs?: number
}

type Connect = () => ClusterStore | Promise<ClusterStore>

/** Long enough that nothing the checks rely on expires while they run. */
const LONG_MS = 60_000

/**
 * What supernodes rely on from the store they share (core/cluster/): the
 * checks use two connections, as two supernodes would, so a store that only
 * remembers what one client wrote fails. Ids are random per run, so a shared
 * Redis may hold other data. A function argument is called twice and may
 * return the same store both times (an in-memory store).
 */
export async function testClusterStore(input: DragonflyPlugin | ClusterBackend | Connect, options: TestClusterStoreOptions = {}): Promise<string[]> {
  const connect = connectorOf(input, options.url)
  const ttl = options.ttlMs ?? 200
  const expires = ttl + (options.expirySlackMs ?? 2_000)
  const a = await connect()
  const b = await connect()
  const id = () => randomId(8)
  const task = () => randomId(32)
  const json = (value: unknown) => JSON.stringify(value)
  const lists = async (store: ClusterStore, announcement: string) => (await store.announcements()).includes(announcement)

  const checks: Check[] = [
    [
      'announcements: seen by another connection, replaced by the next announce, gone after withdraw',
      async () => {
        const sn = id()
        const first = json({ id: sn, url: 'http://10.0.0.1:65001', load: 0 })
        const second = json({ id: sn, url: 'http://10.0.0.1:65001', load: 3 })
        await a.announce(sn, first, LONG_MS)
        assert(await lists(b, first), 'the other connection does not list the announcement')
        await a.announce(sn, second, LONG_MS)
        const listed = await b.announcements()
        assert(listed.includes(second) && !listed.includes(first), 'a second announce did not replace the first')
        await a.withdraw(sn)
        assert(!(await lists(b, second)), 'still listed after withdraw')
        await a.withdraw(sn)
      },
    ],
    [
      'announcements: one expires after its TTL, a longer one stays',
      async () => {
        const [short, long] = [id(), id()]
        const gone = json({ id: short, url: 'http://10.0.0.2:65001', load: 0 })
        const kept = json({ id: long, url: 'http://10.0.0.3:65001', load: 0 })
        await a.announce(short, gone, ttl)
        await a.announce(long, kept, LONG_MS)
        await eventually(async () => !(await lists(b, gone)), expires, `an announcement with a ${ttl} ms TTL is still listed after ${expires} ms`)
        assert(await lists(b, kept), 'an announcement with a long TTL expired too')
        await a.withdraw(long)
      },
    ],
    [
      'leases: a free lease is taken; another owner is refused; the holder takes it again',
      async () => {
        const t = task()
        assert((await b.leaseOwner(t)) === null, 'a lease never taken has an owner')
        assert((await a.acquireLease(t, 'owner-a', LONG_MS)) === true, 'acquiring a free lease returned false')
        assert((await b.acquireLease(t, 'owner-b', LONG_MS)) === false, 'a second owner acquired a held lease')
        assert((await b.leaseOwner(t)) === 'owner-a', `leaseOwner is ${await b.leaseOwner(t)}, not the holder`)
        assert((await a.acquireLease(t, 'owner-a', LONG_MS)) === true, 'the holder could not acquire its own lease again')
        await a.releaseLease(t, 'owner-a')
      },
    ],
    [
      'leases: only the holder renews or releases; a released lease is free',
      async () => {
        const t = task()
        await a.acquireLease(t, 'owner-a', LONG_MS)
        assert((await b.renewLease(t, 'owner-b', LONG_MS)) === false, 'another owner renewed a held lease')
        await b.releaseLease(t, 'owner-b')
        assert((await b.leaseOwner(t)) === 'owner-a', 'another owner released (or took) a held lease')
        assert((await a.renewLease(t, 'owner-a', LONG_MS)) === true, 'the holder could not renew')
        await a.releaseLease(t, 'owner-a')
        assert((await b.leaseOwner(t)) === null, 'the lease still has an owner after its holder released it')
        assert((await a.renewLease(t, 'owner-a', LONG_MS)) === false, 'a released lease was renewed')
        assert((await b.acquireLease(t, 'owner-b', LONG_MS)) === true, 'a released lease could not be taken by another owner')
        await b.releaseLease(t, 'owner-b')
        assert((await a.renewLease(t, 'owner-x', LONG_MS)) === false, 'renewing a free lease returned true')
      },
    ],
    [
      'leases: expire after their TTL (then others may take them and the old holder cannot renew); a renewal extends one',
      async () => {
        const [lapsed, renewed] = [task(), task()]
        await a.acquireLease(lapsed, 'owner-a', ttl)
        await a.acquireLease(renewed, 'owner-a', ttl)
        assert((await a.renewLease(renewed, 'owner-a', LONG_MS)) === true, 'the holder could not renew')
        await eventually(async () => (await b.leaseOwner(lapsed)) === null, expires, `a lease with a ${ttl} ms TTL still has an owner after ${expires} ms`)
        assert((await a.renewLease(lapsed, 'owner-a', LONG_MS)) === false, 'an expired lease was renewed')
        assert((await b.acquireLease(lapsed, 'owner-b', LONG_MS)) === true, 'another owner could not take an expired lease')
        assert((await b.leaseOwner(renewed)) === 'owner-a', 'a lease renewed for longer expired with its first TTL')
        await Promise.all([b.releaseLease(lapsed, 'owner-b'), a.releaseLease(renewed, 'owner-a')])
      },
    ],
    [
      'task records: null when absent, replaced by a put, gone after their TTL',
      async () => {
        const [t, brief] = [task(), task()]
        assert((await b.getTask(t)) === null, 'an unknown task has a record')
        await a.putTask(t, json({ v: 1 }), LONG_MS)
        await a.putTask(t, json({ v: 2 }), LONG_MS)
        assert((await b.getTask(t)) === json({ v: 2 }), `read back ${await b.getTask(t)}`)
        await a.putTask(brief, json({ v: 3 }), ttl)
        await eventually(async () => (await b.getTask(brief)) === null, expires, `a task record with a ${ttl} ms TTL is still there after ${expires} ms`)
        assert((await b.getTask(t)) === json({ v: 2 }), 'a task record with a long TTL expired too')
      },
    ],
    [
      'digests: accumulate across puts, counted, empty when absent, gone after their TTL',
      async () => {
        const [t, brief] = [task(), task()]
        assert((await b.digestCount(t)) === 0 && Object.keys(await b.digests(t)).length === 0, 'an unknown task has digests')
        const d = (n: number) => String(n).repeat(64).slice(0, 64)
        await a.putDigests(t, { 0: d(0), 1: d(1) }, LONG_MS)
        await a.putDigests(t, { 1: d(1), 2: d(2) }, LONG_MS)
        await a.putDigests(t, {}, LONG_MS)
        // Integer-like keys keep ascending order in any object, so the JSON comparison does not depend on the store's order.
        assert((await b.digestCount(t)) === 3, `digestCount is ${await b.digestCount(t)}, not 3`)
        assert(json(await b.digests(t)) === json({ 0: d(0), 1: d(1), 2: d(2) }), `digests read back as ${json(await b.digests(t))}`)
        await a.putDigests(brief, { 0: d(0) }, ttl)
        await eventually(async () => (await b.digestCount(brief)) === 0, expires, `digests with a ${ttl} ms TTL are still there after ${expires} ms`)
      },
    ],
    [
      "members: a put replaces one supernode's set whole, leaves the others', empties it with {}, and expires after its TTL",
      async () => {
        const [t, sa, sb] = [task(), id(), id()]
        assert(Object.keys(await b.members(t, sa)).length === 0, 'an unknown swarm has members')
        await a.putMembers(t, sa, { p1: json({ n: 1 }), p2: json({ n: 2 }) }, LONG_MS)
        await a.putMembers(t, sb, { p9: json({ n: 9 }) }, LONG_MS)
        await a.putMembers(t, sa, { p3: json({ n: 3 }) }, LONG_MS)
        assert(json(await b.members(t, sa)) === json({ p3: json({ n: 3 }) }), `members read back as ${json(await b.members(t, sa))}`)
        assert(json(await b.members(t, sb)) === json({ p9: json({ n: 9 }) }), "another supernode's members changed")
        await a.putMembers(t, sa, {}, LONG_MS)
        assert(Object.keys(await b.members(t, sa)).length === 0, 'an empty put left members behind')
        await a.putMembers(t, sb, { p9: json({ n: 9 }) }, ttl)
        await eventually(
          async () => Object.keys(await b.members(t, sb)).length === 0,
          expires,
          `members with a ${ttl} ms TTL are still there after ${expires} ms`,
        )
      },
    ],
    [
      'values come back exactly: quotes, newlines, non-ASCII, 256 KiB',
      async () => {
        const t = task()
        const odd = json({ s: 'quote " back\\slash\nnewline ünïcödé 蜻蛉 🐉', n: -0.5 })
        const big = json({ have: 'QUJD'.repeat(64 * 1024) })
        await a.putTask(t, odd, LONG_MS)
        assert((await b.getTask(t)) === odd, 'a record with quotes, newlines or non-ASCII came back different')
        await a.putMembers(t, 'big', { m: big }, LONG_MS)
        assert((await b.members(t, 'big')).m === big, 'a 256 KiB member came back different')
        await a.putMembers(t, 'big', {}, LONG_MS)
      },
    ],
    [
      'notify/subscribe (when the store has them): another connection hears which task changed and who said so',
      async () => {
        if (!a.notify || !b.subscribe) {
          assert(!a.notify && !a.subscribe, 'a store with only one of notify and subscribe')
          return
        }
        const t = task()
        const heard: string[] = []
        await b.subscribe((taskId, from) => void (taskId === t && heard.push(from)))
        await a.notify(t, 'sn-a')
        await eventually(async () => heard.includes('sn-a'), 2_000, 'a notify was not heard by a subscriber on another connection')
      },
    ],
  ]
  try {
    return await runChecks('cluster store', checks)
  } finally {
    await Promise.allSettled([...new Set([a, b])].map((store) => store.close()))
  }
}

function connectorOf(input: DragonflyPlugin | ClusterBackend | Connect, url: string | undefined): Connect {
  if (typeof input === 'function') return input
  const backend = slotOf<ClusterBackend>(input, 'cluster')
  if (!url) throw new TypeError('testClusterStore: give options.url, the --cluster URL to connect to')
  return () => backend.connect(url)
}
