import type { ClusterStore } from '../../core/contract/cluster-store.ts'

/**
 * A ClusterStore in memory, with TTLs, for unit tests; `raw` lets a test plant
 * any value, malformed ones included (a planted value never expires).
 */
export function createMemoryClusterStore(): ClusterStore & { raw: Map<string, unknown> } {
  const raw = new Map<string, unknown>()
  const expiry = new Map<string, number>()
  const live = (key: string): unknown => {
    const until = expiry.get(key)
    if (until !== undefined && Date.now() >= until) {
      raw.delete(key)
      expiry.delete(key)
    }
    return raw.get(key)
  }
  const put = (key: string, value: unknown, ttlMs: number): void => {
    raw.set(key, value)
    expiry.set(key, Date.now() + ttlMs)
  }
  const drop = (key: string): void => {
    raw.delete(key)
    expiry.delete(key)
  }
  const hash = (key: string): Record<string, string> => (live(key) as Record<string, string> | undefined) ?? {}
  return {
    raw,
    async announce(id, announcement, ttlMs) {
      put(`supernode:${id}`, announcement, ttlMs)
    },
    async withdraw(id) {
      drop(`supernode:${id}`)
    },
    announcements: async () => [...raw.keys()].filter((k) => k.startsWith('supernode:') && live(k) !== undefined).map((k) => raw.get(k) as string),
    async acquireLease(task, owner, ttlMs) {
      const held = live(`lease:${task}`)
      if (held !== undefined && held !== owner) return false
      put(`lease:${task}`, owner, ttlMs)
      return true
    },
    async renewLease(task, owner, ttlMs) {
      if (live(`lease:${task}`) !== owner) return false
      put(`lease:${task}`, owner, ttlMs)
      return true
    },
    async releaseLease(task, owner) {
      if (live(`lease:${task}`) === owner) drop(`lease:${task}`)
    },
    leaseOwner: async (task) => (live(`lease:${task}`) as string | undefined) ?? null,
    async putTask(task, record, ttlMs) {
      put(`task:${task}`, record, ttlMs)
    },
    getTask: async (task) => (live(`task:${task}`) as string | undefined) ?? null,
    async putDigests(task, digests, ttlMs) {
      if (Object.keys(digests).length > 0) put(`digests:${task}`, { ...hash(`digests:${task}`), ...digests }, ttlMs)
    },
    digestCount: async (task) => Object.keys(hash(`digests:${task}`)).length,
    digests: async (task) => ({ ...hash(`digests:${task}`) }),
    async putMembers(task, sn, members, ttlMs) {
      put(`members:${task}:${sn}`, { ...members }, ttlMs)
    },
    members: async (task, sn) => ({ ...hash(`members:${task}:${sn}`) }),
    async close() {},
  }
}
