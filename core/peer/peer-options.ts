import * as v from 'valibot'
import { Count, Size, Url, wholeNumber } from '../option-values.ts'
import { HOST_NAME_RE } from '../protocol/api-schema.ts'

/**
 * The peer's options, each declared once: its type, its default and its
 * check. They are the config file's `peer` section (config/schema.ts) and
 * the option half of `PeerOptions` (peer.ts); sizes are read as bytes.
 */
export const PeerOptionsSchema = v.strictObject({
  /** Supernode base URLs, tried in order; later ones are failovers. A cluster's config service adds the others. @default [] */
  supernodes: v.optional(v.array(Url), () => []),
  /** `region|zone|rack`; peers sharing a prefix are preferred. */
  location: v.optional(v.string()),
  /** Pieces fetched in parallel. @default 8 */
  concurrency: v.optional(Count, 8),
  /** Concurrent uploads offered to other peers. @default 6 */
  uploadSlots: v.optional(Count, 6),
  /** How long a piece fetch may take before it is given up. @default 30000 */
  pieceTimeoutMs: v.optional(Count, 30_000),
  /** Go to the source when no supernode answers. @default true */
  backSource: v.optional(v.boolean(), true),
  /** Address other peers reach this one at. @default `dragonfly get`/`daemon`: 127.0.0.1 for a loopback supernode, else the first external IPv4; `createPeer`: 127.0.0.1 */
  advertiseHost: v.optional(v.string()),
  /** Interface the piece server binds. @default the advertised host */
  listenHost: v.optional(v.string()),
  /** Bytes/s each task downloads, and uploads, unless its request says otherwise (`20MB`, `512KB`); 0 = unlimited. @default 0 */
  rateLimit: v.optional(Size, 0),
  /** Bytes/s this host downloads, and uploads, across concurrent tasks; 0 = unlimited. @default 0 */
  totalLimit: v.optional(Size, 0),
  /** How often the list of supernodes is asked again from the cluster's config service. @default 30000 */
  supernodeRefreshMs: v.optional(wholeNumber(1_000), 30_000),
  /** The name the supernode's dashboard and `dragonfly status` show for this peer, beside its address. @default `dragonfly get`/`daemon`: this host's name; `createPeer`: none */
  hostname: v.optional(v.pipe(v.string(), v.regex(HOST_NAME_RE, 'a host name: letters, digits, dots, dashes or underscores'))),
})

/** The peer's options as the peer uses them: defaults filled, sizes in bytes. */
export type PeerOptionValues = v.InferOutput<typeof PeerOptionsSchema>

/** `options` with every option it leaves out (or undefined) set to its default. */
export function withPeerDefaults<T extends Partial<PeerOptionValues>>(options: T): T & PeerOptionValues {
  const filled: Record<string, unknown> = { ...options }
  for (const [key, value] of Object.entries(v.parse(PeerOptionsSchema, {}))) filled[key] ??= value
  return filled as T & PeerOptionValues
}
