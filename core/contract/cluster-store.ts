import * as v from 'valibot'
import { createError, type DragonflyError, type ErrorCode, isErrorCode } from '../errors.ts'

/**
 * What supernodes of a cluster share, and the capability that stores it.
 * core/ never talks to Redis itself: a plugin's `cluster` slot connects a
 * `ClusterStore` (plugins/cluster-redis), and everything it returns is
 * parsed here before use, because another process wrote it.
 */
export interface ClusterStore {
  /** Publishes this supernode's announcement (JSON) for `ttlMs`. */
  announce(id: string, announcement: string, ttlMs: number): Promise<void>
  withdraw(id: string): Promise<void>
  /** Every live announcement, as stored. */
  announcements(): Promise<string[]>
  /** Takes the task's source lease when it is free or already `owner`'s; true when `owner` holds it now. */
  acquireLease(taskId: string, owner: string, ttlMs: number): Promise<boolean>
  /** Extends the lease only while `owner` holds it. */
  renewLease(taskId: string, owner: string, ttlMs: number): Promise<boolean>
  releaseLease(taskId: string, owner: string): Promise<void>
  leaseOwner(taskId: string): Promise<string | null>
  putTask(taskId: string, record: string, ttlMs: number): Promise<void>
  getTask(taskId: string): Promise<string | null>
  /** Adds piece digests (piece number → hex). */
  putDigests(taskId: string, digests: Record<string, string>, ttlMs: number): Promise<void>
  digestCount(taskId: string): Promise<number>
  digests(taskId: string): Promise<Record<string, string>>
  /** Replaces the members one supernode has in a task's swarm (member id → JSON), for `ttlMs`. */
  putMembers(taskId: string, supernodeId: string, members: Record<string, string>, ttlMs: number): Promise<void>
  members(taskId: string, supernodeId: string): Promise<Record<string, string>>
  /**
   * Tells the other supernodes that what `from` shares about `taskId` changed
   * (record, digests, members). Optional: without `notify`/`subscribe`,
   * supernodes poll the tasks they are downloading instead of waiting to be told.
   */
  notify?(taskId: string, from: string): Promise<void>
  /** Calls `listener` for every `notify` of any connection (this one included); resolves once listening. */
  subscribe?(listener: (taskId: string, from: string) => void): Promise<void>
  /** Calls `listener(false)` when the store stops answering and `listener(true)` when it answers again. */
  onConnection?(listener: (up: boolean) => void): void
  close(): Promise<void>
}

/** A plugin's `cluster` slot: connects to the store a `--cluster` URL names, by protocol. */
export interface ClusterBackend {
  /** URL protocols handled, with the colon: `['redis:', 'rediss:']`. */
  protocols: string[]
  connect(url: string, options?: { keyPrefix?: string }): Promise<ClusterStore>
}

const Hex64 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/))
const Location = v.pipe(v.string(), v.maxLength(256))
const Address = v.pipe(v.string(), v.maxLength(512), v.regex(/^https?:\/\/[^/\s]+$/))

export const Announcement = v.object({
  id: v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/)),
  url: Address,
  location: v.optional(Location),
  load: v.pipe(v.number(), v.minValue(0)),
})
export type Announcement = v.InferOutput<typeof Announcement>

/** What followers need to cut and verify a task the way its owner does. */
export const SharedTask = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  contentLength: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER)),
  pieceSize: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1 << 30)),
  complete: v.boolean(),
  digest: v.optional(v.pipe(v.string(), v.regex(/^sha256:[0-9a-f]{64}$/))),
  etag: v.optional(v.pipe(v.string(), v.maxLength(1024))),
  lastModified: v.optional(v.pipe(v.string(), v.maxLength(256))),
  private: v.optional(v.boolean()),
  /** A private task's capability key: every supernode of the cluster issues and checks the same capabilities. */
  capabilityKey: v.optional(Hex64),
})
export type SharedTask = v.InferOutput<typeof SharedTask>

/** The owner's source fetch failed before it knew the layout: followers answer the same error for a while. */
export const SharedFailure = v.object({ error: v.object({ code: v.string(), message: v.pipe(v.string(), v.maxLength(4096)) }) })

export const SharedMember = v.object({
  address: Address,
  location: v.optional(Location),
  slots: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(4096)),
  have: v.pipe(v.string(), v.maxLength(2_000_000), v.base64()),
})
export type SharedMember = v.InferOutput<typeof SharedMember>

export const PieceDigest = Hex64

/** Parses a value another supernode stored; a malformed one is an E_CLUSTER error naming `what`. */
export function parseShared<S extends v.GenericSchema>(schema: S, raw: string, what: string): v.InferOutput<S> {
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch {
    throw createError('E_CLUSTER', `cluster store holds malformed JSON for ${what}`)
  }
  const result = v.safeParse(schema, json)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue?.path?.map((p) => String(p.key)).join('.') ?? ''
    throw createError('E_CLUSTER', `cluster store holds an invalid ${what}${path ? ` at ${path}` : ''}: ${issue?.message ?? 'malformed'}`)
  }
  return result.output
}

/** The failure a shared record carries, as an error with a known code. */
export function sharedError(failure: v.InferOutput<typeof SharedFailure>): DragonflyError {
  const code: ErrorCode = isErrorCode(failure.error.code) ? failure.error.code : 'E_SOURCE_UNREACHABLE'
  return createError(code, failure.error.message)
}
