import * as v from 'valibot'
import type { ClusterStore } from '../../core/contract/cluster-store.ts'
import { definePlugin } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { createError, isDragonflyError } from '../../core/errors.ts'

export const PLUGIN_NAME = 'cluster-redis'

export interface ClusterRedisOptions {
  /**
   * Prefix of every key, so several clusters can share one Redis.
   * @default 'dragonfly:'
   */
  keyPrefix?: string
  /**
   * How long a command may wait for Redis before it fails with E_CLUSTER.
   * @default 5000
   */
  commandTimeoutMs?: number
  /**
   * PEM certificate(s) of a private CA to trust for `rediss://` URLs (read the
   * file in dragonfly.config.ts); the system's CAs are trusted without it.
   */
  tlsCa?: string
}

const OPTIONS = v.strictObject({
  keyPrefix: v.optional(v.string(), 'dragonfly:'),
  commandTimeoutMs: v.optional(v.pipe(v.number(), v.minValue(1, 'must be at least 1 ms')), 5_000),
  tlsCa: v.optional(v.string()),
} satisfies PluginOptionsEntries<ClusterRedisOptions>)

/**
 * The cluster store on Redis (node-redis' `@redis/client`, loaded only when a
 * supernode joins a cluster). Keys, all under the prefix:
 * `supernodes` (set of ids) and `supernode:<id>` (announcement, with TTL),
 * `lease:<task>` (owner id, with TTL), `task:<task>` (record), `digests:<task>`
 * (hash piece → sha256), `members:<task>:<supernode>` (hash member → JSON, with TTL);
 * changes are announced on the pub/sub channel `<prefix>changes` as `<supernode> <task>`.
 */
export default definePlugin((options: ClusterRedisOptions = {}) => {
  // Checked here too, so a misspelt option fails when the config loads rather than when a cluster is joined.
  const checked = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  return {
    name: PLUGIN_NAME,
    cluster: { protocols: ['redis:', 'rediss:'], connect: (url, given) => connectRedisStore(url, { ...checked, ...given }) },
  }
})

// Compare-and-set scripts: a lease changes hands only when free or when its owner asks.
const ACQUIRE = `local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if v then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1`
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`
// Readers never see a half-replaced member set.
const REPLACE_HASH = `redis.call('DEL', KEYS[1])
if #ARGV > 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)) end
redis.call('PEXPIRE', KEYS[1], ARGV[1]) return 1`
const ADD_HASH = `redis.call('HSET', KEYS[1], unpack(ARGV, 2)) redis.call('PEXPIRE', KEYS[1], ARGV[1]) return 1`

export async function connectRedisStore(url: string, options: ClusterRedisOptions = {}): Promise<ClusterStore> {
  const { keyPrefix: prefix, commandTimeoutMs: timeout, tlsCa } = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  const tls = url.startsWith('rediss:') ? { tls: true as const, ...(tlsCa ? { ca: tlsCa } : {}) } : {}
  const where = redactUrl(url)
  const { createClient } = await import('@redis/client')
  let lastError = ''
  let connected = false
  // The first connection fails fast (a wrong URL is a startup error); a lost one is retried with backoff.
  const reconnectStrategy = (retries: number, cause: Error): number | Error => (connected ? Math.min(100 * 2 ** retries, 2_000) : cause)
  const client = createClient({ url, socket: { connectTimeout: timeout, reconnectStrategy, ...tls } })
  // Without a listener an 'error' event would crash the process; the commands report it instead.
  const listeners: ((up: boolean) => void)[] = []
  let up = true
  const setUp = (now: boolean): void => {
    if (now === up) return
    up = now
    for (const listener of listeners) listener(now)
  }
  client.on('error', (error: Error) => {
    lastError = error.message
    if (connected) setUp(false)
  })
  client.on('reconnecting', () => connected && setUp(false))
  client.on('ready', () => connected && setUp(true))
  let subscriber: typeof client | undefined
  // connectTimeout covers only the TCP connection: a server that accepts and never answers the handshake would hang here.
  let handshake: ReturnType<typeof setTimeout> | undefined
  try {
    await Promise.race([client.connect(), new Promise((_, reject) => (handshake = setTimeout(() => reject(new Error(`no answer in ${timeout} ms`)), timeout)))])
    connected = true
  } catch (cause) {
    await client.destroy?.()
    throw createError('E_CLUSTER', `cannot connect to the cluster store ${where}: ${(cause as Error).message}`, { cause })
  } finally {
    clearTimeout(handshake)
  }

  const run = async (args: string[]): Promise<unknown> => {
    if (!client.isReady) throw createError('E_CLUSTER', `cluster store ${where} is not connected${lastError ? ` (${lastError})` : ''}`)
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      return await Promise.race([
        client.sendCommand(args),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeout} ms`)), timeout))),
      ])
    } catch (cause) {
      if (isDragonflyError(cause)) throw cause
      // Some client errors carry no message: name them by their class so the log still says something.
      const said = (cause as Error)?.message || (cause as Error)?.name || String(cause)
      throw createError('E_CLUSTER', `cluster store ${where}: ${args[0]} failed: ${said}`, { cause })
    } finally {
      clearTimeout(timer)
    }
  }
  const script = (body: string, key: string, ...args: (string | number)[]) => run(['EVAL', body, '1', key, ...args.map(String)])
  const text = (reply: unknown): string | null => (typeof reply === 'string' ? reply : null)
  const hash = (reply: unknown): Record<string, string> => {
    const out: Record<string, string> = {}
    if (Array.isArray(reply)) {
      for (let i = 0; i + 1 < reply.length; i += 2) if (typeof reply[i] === 'string' && typeof reply[i + 1] === 'string') out[reply[i]] = reply[i + 1]
    } else if (reply && typeof reply === 'object') {
      for (const [k, v] of Object.entries(reply)) if (typeof v === 'string') out[k] = v
    }
    return out
  }
  const pairs = (record: Record<string, string>): string[] => Object.entries(record).flat()
  const k = {
    set: `${prefix}supernodes`,
    supernode: (id: string) => `${prefix}supernode:${id}`,
    lease: (task: string) => `${prefix}lease:${task}`,
    task: (task: string) => `${prefix}task:${task}`,
    digests: (task: string) => `${prefix}digests:${task}`,
    members: (task: string, sn: string) => `${prefix}members:${task}:${sn}`,
    changes: `${prefix}changes`,
  }

  return {
    async announce(id, announcement, ttlMs) {
      await Promise.all([run(['SET', k.supernode(id), announcement, 'PX', String(ttlMs)]), run(['SADD', k.set, id])])
    },
    async withdraw(id) {
      await Promise.all([run(['DEL', k.supernode(id)]), run(['SREM', k.set, id])])
    },
    async announcements() {
      const ids = ((await run(['SMEMBERS', k.set])) as unknown[]).filter((id): id is string => typeof id === 'string')
      if (ids.length === 0) return []
      const values = (await run(['MGET', ...ids.map(k.supernode)])) as unknown[]
      const gone = ids.filter((_, i) => typeof values[i] !== 'string')
      if (gone.length > 0) await run(['SREM', k.set, ...gone])
      return values.filter((v): v is string => typeof v === 'string')
    },
    acquireLease: async (task, owner, ttlMs) => Number(await script(ACQUIRE, k.lease(task), owner, ttlMs)) === 1,
    renewLease: async (task, owner, ttlMs) => Number(await script(RENEW, k.lease(task), owner, ttlMs)) === 1,
    async releaseLease(task, owner) {
      await script(RELEASE, k.lease(task), owner)
    },
    leaseOwner: async (task) => text(await run(['GET', k.lease(task)])),
    async putTask(task, record, ttlMs) {
      await run(['SET', k.task(task), record, 'PX', String(ttlMs)])
    },
    getTask: async (task) => text(await run(['GET', k.task(task)])),
    async putDigests(task, digests, ttlMs) {
      if (Object.keys(digests).length > 0) await script(ADD_HASH, k.digests(task), ttlMs, ...pairs(digests))
    },
    digestCount: async (task) => Number(await run(['HLEN', k.digests(task)])) || 0,
    digests: async (task) => hash(await run(['HGETALL', k.digests(task)])),
    async putMembers(task, sn, members, ttlMs) {
      await script(REPLACE_HASH, k.members(task, sn), ttlMs, ...pairs(members))
    },
    members: async (task, sn) => hash(await run(['HGETALL', k.members(task, sn)])),
    async notify(task, from) {
      await run(['PUBLISH', k.changes, `${from} ${task}`])
    },
    async subscribe(listener) {
      // A connection in subscriber mode takes no other commands: pub/sub gets its own, resubscribed by the client after a reconnect.
      if (!subscriber) {
        subscriber = client.duplicate()
        subscriber.on('error', () => {})
        await subscriber.connect()
      }
      await subscriber.subscribe(k.changes, (message: string) => {
        const space = message.indexOf(' ')
        if (space > 0 && message.length <= 1024) listener(message.slice(space + 1), message.slice(0, space))
      })
    },
    onConnection(listener) {
      listeners.push(listener)
    },
    async close() {
      listeners.length = 0
      await subscriber?.close().catch(() => subscriber?.destroy())
      await client.close().catch(() => client.destroy())
    },
  }
}

/** The URL without its password, for messages. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password) u.password = '***'
    return u.toString()
  } catch {
    return 'redis'
  }
}
