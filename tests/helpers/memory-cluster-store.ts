import type { ClusterStore } from '../../core/contract/cluster-store.ts'

/** A ClusterStore in memory (no TTLs), for unit tests; `raw` lets a test plant any value, malformed ones included. */
export function createMemoryClusterStore(): ClusterStore & { raw: Map<string, unknown> } {
  const raw = new Map<string, unknown>()
  const hash = (key: string): Record<string, string> => (raw.get(key) as Record<string, string> | undefined) ?? {}
  return {
    raw,
    async announce(id, announcement) {
      raw.set(`supernode:${id}`, announcement)
    },
    async withdraw(id) {
      raw.delete(`supernode:${id}`)
    },
    announcements: async () => [...raw].filter(([k]) => k.startsWith('supernode:')).map(([, v]) => v as string),
    async acquireLease(task, owner) {
      const held = raw.get(`lease:${task}`)
      if (held !== undefined && held !== owner) return false
      raw.set(`lease:${task}`, owner)
      return true
    },
    renewLease: async (task, owner) => raw.get(`lease:${task}`) === owner,
    async releaseLease(task, owner) {
      if (raw.get(`lease:${task}`) === owner) raw.delete(`lease:${task}`)
    },
    leaseOwner: async (task) => (raw.get(`lease:${task}`) as string | undefined) ?? null,
    async putTask(task, record) {
      raw.set(`task:${task}`, record)
    },
    getTask: async (task) => (raw.get(`task:${task}`) as string | undefined) ?? null,
    async putDigests(task, digests) {
      raw.set(`digests:${task}`, { ...hash(`digests:${task}`), ...digests })
    },
    digestCount: async (task) => Object.keys(hash(`digests:${task}`)).length,
    digests: async (task) => hash(`digests:${task}`),
    async putMembers(task, sn, members) {
      raw.set(`members:${task}:${sn}`, { ...members })
    },
    members: async (task, sn) => hash(`members:${task}:${sn}`),
    async close() {},
  }
}
