import * as v from 'valibot'
import { createError } from '../errors.ts'
import type { ErrorJson } from './error-body.ts'

/**
 * The request bodies of the supernode's API and the daemon's local API, and
 * the peer API's answers. Everything from the network is parsed here before
 * it reaches the swarm; a body that does not fit is a 400 with a code.
 */

const Headers = v.pipe(
  v.record(
    v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/)),
    v.pipe(v.string(), v.maxLength(8192), v.regex(/^[^\r\n\0]*$/, 'header values are one line')),
  ),
  v.check((h) => Object.keys(h).length <= 64, 'at most 64 headers'),
)
/**
 * A host name a peer may report: what `os.hostname()` gives on the usual
 * systems (RFC 1123 labels, plus `_` that some set). Nothing that could
 * break a terminal line or a page: the supernode shows it to people.
 */
export const HOST_NAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?$/
const PieceNumber = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000))
/** Most bytes one report may claim (1 PiB): a counter fed by reports stays finite and exact. */
const ReportedBytes = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(2 ** 50))

export const RegisterBody = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  headers: v.optional(Headers),
  filter: v.optional(v.union([v.pipe(v.string(), v.maxLength(1024)), v.pipe(v.array(v.pipe(v.string(), v.maxLength(256))), v.maxLength(64))])),
  digest: v.optional(v.pipe(v.string(), v.maxLength(100))),
  tag: v.optional(v.pipe(v.string(), v.maxLength(256))),
  peer: v.object({
    address: v.pipe(v.string(), v.maxLength(512), v.regex(/^https?:\/\/[^/\s]+$/, 'address must be http(s)://host:port')),
    location: v.optional(v.pipe(v.string(), v.maxLength(256))),
    /** The peer's host name, for people reading the dashboard and `status`: never used to reach it. */
    hostname: v.optional(v.pipe(v.string(), v.regex(HOST_NAME_RE, 'hostname is 1-253 letters, digits, dots, dashes or underscores'))),
    slots: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(256))),
    have: v.optional(v.pipe(v.string(), v.maxLength(2_000_000), v.base64())),
  }),
})
export type RegisterBody = v.InferOutput<typeof RegisterBody>

/** The `from` of a piece the supernode answering the pull serves itself (every other `from` is a peer id). */
export const SUPERNODE_ID = 'supernode'

/** What a requester says about one assignment of its last batch. */
export const PieceResult = v.object({
  piece: PieceNumber,
  from: v.pipe(v.string(), v.maxLength(64)),
  ok: v.boolean(),
  /** Why it failed: the source served bad bytes, could not be reached, timed out, or answered an error. */
  error: v.optional(v.picklist(['digest', 'unreachable', 'timeout', 'http'])),
  bytes: v.optional(ReportedBytes),
})
export type PieceResult = v.InferOutput<typeof PieceResult>

export const PullBody = v.object({
  peerId: v.pipe(v.string(), v.uuid()),
  results: v.optional(v.pipe(v.array(PieceResult), v.maxLength(4096)), []),
  want: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(256)), 8),
  /** Long-poll: wait for work when there is none right now. */
  wait: v.optional(v.boolean(), true),
})
export type PullBody = v.InferOutput<typeof PullBody>

/** What a peer received from one source since its last sync (the supernode's byte counters and metrics). */
export const ReceivedFrom = v.object({
  from: v.pipe(v.string(), v.maxLength(64)),
  pieces: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000)),
  bytes: ReportedBytes,
})
export type ReceivedFrom = v.InferOutput<typeof ReceivedFrom>

/** A source that failed this peer since its last sync, and why. */
export const SourceFailure = v.object({
  from: v.pipe(v.string(), v.maxLength(64)),
  error: v.picklist(['digest', 'unreachable', 'timeout', 'http']),
  /** The piece that failed: a digest failure is checked on it before the source is isolated. */
  piece: v.optional(PieceNumber),
})
export type SourceFailure = v.InferOutput<typeof SourceFailure>

/**
 * The parents protocol: a downloading peer's periodic report and request in
 * one (SUPERNODE_ROUTES.sync). It says what it holds, what it received from
 * whom and which sources failed it; it asks for digests it lacks and for
 * first copies from the supernode (`seed`).
 */
/** The longest `holdMs` a sync may ask for. */
export const MAX_HOLD_MS = 1_000

export const SyncBody = v.object({
  peerId: v.pipe(v.string(), v.uuid()),
  /** Every piece the peer holds, base64 bitset; absent when nothing changed since the last sync. */
  have: v.optional(v.pipe(v.string(), v.maxLength(2_000_000), v.base64())),
  received: v.optional(v.pipe(v.array(ReceivedFrom), v.maxLength(1024)), []),
  failed: v.optional(v.pipe(v.array(SourceFailure), v.maxLength(1024)), []),
  /** Digests are sent for pieces from this index on; none without it (a heartbeat). */
  digestsFrom: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000))),
  /** First copies the peer would take from the supernode now. */
  seed: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(256)), 0),
  /** None of the peer's parents holds a piece it needs: wait (long-poll) for a change that could give it work. */
  wait: v.optional(v.boolean(), false),
  /** `base64`: digests as one string of raw digests (`digestsBase64`, digest-run.ts), a third smaller than the hex list. */
  digestsAs: v.optional(v.picklist(['base64'])),
  /** The `parentsTag` of the parent list the peer holds: an answer whose list is the same leaves `parents` out. */
  parentsTag: v.optional(v.pipe(v.string(), v.regex(/^[0-9a-f]{16}$/))),
  /**
   * With `wait`: answer no sooner than this (ms), unless the source fetch ends first. A peer sends its long-poll at
   * once and lets the supernode keep the spacing between its long-polls (`holds` in the answer says it does).
   */
  holdMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_HOLD_MS))),
})
export type SyncBody = v.InferOutput<typeof SyncBody>

export const LeaveBody = v.object({ peerId: v.pipe(v.string(), v.uuid()) })

export const PreheatBody = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  headers: v.optional(Headers),
  filter: RegisterBody.entries.filter,
  digest: v.optional(v.pipe(v.string(), v.maxLength(100))),
  tag: v.optional(v.pipe(v.string(), v.maxLength(256))),
})

/**
 * A peer registered for a task went to the source itself: it says so to the
 * supernodes it registered with, with its secret (`taskId` and `peerId` are
 * optional here only so that a report without them gets E_UNKNOWN_PEER, not
 * a schema message).
 */
export const BackToSourceReport = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  bytes: ReportedBytes,
  taskId: v.optional(v.pipe(v.string(), v.maxLength(64))),
  peerId: v.optional(v.pipe(v.string(), v.uuid())),
})
export type BackToSourceReport = v.InferOutput<typeof BackToSourceReport>

/** The daemon's local API: what `dragonfly get` hands over (DAEMON_ROUTES.download). */
export const DaemonDownloadBody = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  headers: v.optional(v.record(v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/)), v.pipe(v.string(), v.maxLength(8192)))),
  digest: v.optional(v.pipe(v.string(), v.maxLength(100))),
  filter: v.optional(v.union([v.pipe(v.string(), v.maxLength(1024)), v.array(v.pipe(v.string(), v.maxLength(256)))])),
  tag: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /** Bytes/s for this download (get's `--rate-limit`); the first request of a shared download sets it. */
  rateLimit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
})
export type DaemonDownloadBody = v.InferOutput<typeof DaemonDownloadBody>

/** docker-registry's notification envelope (only the fields used). */
export const RegistryEnvelope = v.object({
  events: v.pipe(
    v.array(
      v.looseObject({
        action: v.string(),
        target: v.looseObject({
          mediaType: v.optional(v.string()),
          digest: v.optional(v.string()),
          repository: v.optional(v.string()),
          url: v.optional(v.pipe(v.string(), v.maxLength(8192), v.url())),
        }),
      }),
    ),
    v.maxLength(1024),
  ),
})

export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, body)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue?.path?.map((p) => String(p.key)).join('.') ?? ''
    throw createError('E_BAD_REQUEST', `invalid request body${path ? ` at ${path}` : ''}: ${issue?.message ?? 'malformed'}`)
  }
  return result.output
}

/** Wire shape of one assignment in a pull response. */
export interface AssignmentDto {
  piece: number
  digest: string
  size: number
  from: string
  /** Piece server base URL; absent when `from` is SUPERNODE_ID. */
  address?: string
  endgame?: boolean
}

export interface RegisterResponse {
  taskId: string
  peerId: string
  contentLength: number
  pieceSize: number
  pieceCount: number
  digest?: string
  /** Cluster mode: the supernodes this peer should use, best first (the config service's answer). */
  supernodes?: string[]
  /** Private task: this peer's capability, sent with every piece request (CAPABILITY_HEADER in core/transfer/capability.ts). */
  capability?: string
  /** Private task: the key its piece server checks the capabilities of other peers with. */
  capabilityKey?: string
  /** The piece server address the supernode gives others for this peer (the registration's own address unless trusted). */
  address?: string
  /** This peer's proof of who it is (PEER_SECRET_HEADER in peer-secret.ts) on its later requests; listed nowhere. */
  peerSecret?: string
}

/** A peer a downloading peer fetches pieces from directly. */
export interface ParentDto {
  id: string
  /** Piece server base URL. */
  address: string
  location?: string
}

export interface SyncResponse {
  /**
   * The peer's parents from now on (it keeps the ones still listed, drops the
   * others). Left out when they are the list the request's `parentsTag` names:
   * the peer keeps what it has (8 parents are ~0.8 KB, most of a periodic answer).
   */
  parents?: ParentDto[]
  /** Names this answer's parent list (`parentsTag()` in parents-tag.ts); the peer sends it back with its next sync. */
  parentsTag?: string
  /** Piece digests from `digestsFrom` on (null: not known yet); at most SYNC_DIGESTS per answer. */
  digestsFrom: number
  digests: (string | null)[]
  /** Instead of `digests` when the peer asked for `digestsAs: 'base64'`: the known digests from `digestsFrom` on, raw, in base64. */
  digestsBase64?: string
  /** Pieces the peer may fetch from the supernode now: first copies no other peer holds. */
  seed: number[]
  /** How many of them to fetch at once: the supernode's uplink split among the peers downloading. */
  seedSlots?: number
  /** When to sync next unless the peer needs something sooner (ms; longer in a large swarm, so the syncs stay within the supernode's budget). */
  syncAfterMs?: number
  /** Whole-content digest, once the supernode has all of it. */
  digest?: string
  /** Source failed: the peer should stop (or go back to source). */
  error?: ErrorJson
  /** Private task: a fresh capability (the one from registration expires). */
  capability?: string
  /** This supernode honours a sync's `holdMs` (older ones leave it out, and their peers keep the spacing themselves). */
  holds?: boolean
}

/** A piece map answer (PIECE_MAP_ROUTE): how many pieces a node holds, and which. */
export const PieceMap = v.object({
  count: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000)),
  have: v.pipe(v.string(), v.maxLength(2_000_000), v.base64()),
})
export type PieceMap = v.InferOutput<typeof PieceMap>

/** Most digests one sync answer carries (64 KiB of hex); a peer asks again from where it stopped. */
export const SYNC_DIGESTS = 1024

export interface PullResponse {
  assignments: AssignmentDto[]
  /** Private task: the requester's capability for the piece requests of these assignments. */
  capability?: string
  /** Whole-content digest, once the supernode has all of it. */
  digest?: string
  /** Source failed: the peer should stop (or go back to source). */
  error?: ErrorJson
}
