import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import * as v from 'valibot'
import type { DragonflyPlugin } from '../core/contract/plugin.ts'
import { Count, Port, RegExpSource, Share, Size, SourcePattern, Url, wholeNumber } from '../core/option-values.ts'
import { PeerOptionsSchema } from '../core/peer/peer-options.ts'

/**
 * Every option of `dragonfly.config.*`, declared once: its type, its default
 * and its check. The types users write (`DragonflyConfig`) and the ones the
 * roles read (`ResolvedDragonflyConfig`) are inferred from here; an unknown
 * key is an error at every level. The `peer` section is the peer's own option
 * schema (core/peer/peer-options.ts).
 */

const CLUSTER_URL = 'must be a URL like redis://host:6379, or empty'
const ADVERTISE_URL = 'must be http(s)://host:port, or empty'

export const SupernodeSchema = v.strictObject({
  /** @default 8002 */
  port: v.optional(Port, 8002),
  /** @default '0.0.0.0' */
  host: v.optional(v.string(), '0.0.0.0'),
  /** How long a pull waits for work before answering empty. @default 15000 */
  longPollMs: v.optional(Count, 15_000),
  /** Concurrent uploads the supernode offers per task. @default 48 */
  uploadSlots: v.optional(Count, 48),
  /** Concurrent uploads assumed for a peer that does not say. @default 6 */
  peerSlots: v.optional(Count, 6),
  /** An assignment not reported back within this is reclaimed. @default 30000 */
  pieceTimeoutMs: v.optional(Count, 30_000),
  /** Hosts (`*.example.com`), addresses or CIDR ranges the supernode may fetch from; empty = any not denied (docs/security.md). @default [] */
  allowSources: v.optional(v.array(SourcePattern), () => []),
  /** Refused on top of the link-local and cloud metadata ranges that are always refused (docs/security.md). @default [] */
  denySources: v.optional(v.array(SourcePattern), () => []),
  /** Disk quota of the CDN cache (`50GB`, or bytes); 0 = unlimited. @default 0 */
  cacheQuota: v.optional(Size, 0),
  /** Eviction starts above this share of the quota... @default 0.9 */
  highWatermark: v.optional(Share, 0.9),
  /** ...and stops below this share. @default 0.7 */
  lowWatermark: v.optional(Share, 0.7),
  /** Bytes/s read from sources, and served to peers, across all tasks (`100MB`); 0 = unlimited. @default 0 */
  totalLimit: v.optional(Size, 0),
  /** Cluster store shared with the other supernodes, e.g. `redis://redis:6379` (docs/cluster.md); '' = alone. @default '' */
  cluster: v.optional(v.pipe(v.string(CLUSTER_URL), v.check(isClusterUrl, CLUSTER_URL)), ''),
  /** `region|zone|rack` of this supernode: the config service sends peers to the nearest. @default '' */
  location: v.optional(v.pipe(v.string(), v.maxLength(256)), ''),
  /** URL peers and other supernodes reach this one at. @default http://<host>:<port> (127.0.0.1 for 0.0.0.0) */
  advertiseUrl: v.optional(v.pipe(v.string(ADVERTISE_URL), v.regex(/^$|^https?:\/\/[^/\s]+$/, ADVERTISE_URL)), ''),
  /** Lifetime of a source lease and of an announcement: how long a dead supernode's work waits (docs/cluster.md, "Failure and timing"). @default 1500 */
  clusterLeaseMs: v.optional(wholeNumber(500, 600_000), 1_500),
  /**
   * Believe the piece server address peers advertise. Off: a peer's host is the address its registration
   * came from (it keeps its port), so no peer can send others to a host it does not speak from. Turn on
   * only where peers reach the supernode through NAT or a proxy (docs/security.md). @default false
   */
  trustAdvertisedAddress: v.optional(v.boolean(), false),
})

export const DaemonSchema = v.strictObject({
  /** Port of the registry mirror, HTTP proxy and local API. @default 65001 */
  port: v.optional(Port, 65001),
  /** Interface that port listens on; the local API trusts whoever reaches it, so keep it local. @default '127.0.0.1' */
  host: v.optional(v.string(), '127.0.0.1'),
  /** Port of the piece server other hosts download from (0 picks a free one). @default 65002 */
  uploadPort: v.optional(Port, 65002),
  /** Default upstream registry for `/v2/…` requests, e.g. `https://registry-1.docker.io`. */
  registryMirror: v.optional(Url),
  /** Registry hosts (`host` or `host:port`) reached over plain http; loopback hosts always are. @default [] */
  insecureRegistries: v.optional(v.array(v.string()), () => []),
  /** Regular expressions: proxied GETs whose URL matches one go through the swarm. @default [] */
  proxyRules: v.optional(v.array(RegExpSource), () => []),
  /** Hosts, addresses or CIDR ranges the proxy, the mirror and back-to-source may connect to; empty = any not denied (docs/security.md). @default [] */
  allowSources: v.optional(v.array(SourcePattern), () => []),
  /** Refused on top of the link-local and cloud metadata ranges that are always refused (docs/security.md). @default [] */
  denySources: v.optional(v.array(SourcePattern), () => []),
  /** Disk quota of the daemon's cache (`20GB`, or bytes); 0 = unlimited. @default 0 */
  cacheQuota: v.optional(Size, 0),
  /** Eviction starts above this share of the quota... @default 0.9 */
  highWatermark: v.optional(Share, 0.9),
  /** ...and stops below this share. @default 0.7 */
  lowWatermark: v.optional(Share, 0.7),
})

/** A plugin as the config holds it; what it may contain is checked by `checkPlugin` (E_PLUGIN). */
const Plugin = v.custom<DragonflyPlugin>(
  (value) => typeof value === 'object' && value !== null && typeof (value as { name?: unknown }).name === 'string',
  'must be a plugin (an object with a name), like storageFs()',
)

export const ConfigSchema = v.strictObject({
  /** Data directory of every role. @default ~/.dragonfly */
  home: v.optional(
    v.pipe(
      v.string(),
      v.transform((path) => resolve(path)),
    ),
    () => join(homedir(), '.dragonfly'),
  ),
  /** Replaces the default list; storage-fs and source-http are added when no plugin fills their slots. */
  plugins: v.optional(v.array(Plugin)),
  supernode: v.optional(SupernodeSchema, () => ({})),
  peer: v.optional(PeerOptionsSchema, () => ({})),
  daemon: v.optional(DaemonSchema, () => ({})),
})

/** What a `dragonfly.config.*` file may say (every field optional). */
export type DragonflyConfig = v.InferInput<typeof ConfigSchema>
export type SupernodeConfig = v.InferInput<typeof SupernodeSchema>
export type PeerConfig = v.InferInput<typeof PeerOptionsSchema>
export type DaemonConfig = v.InferInput<typeof DaemonSchema>

/** The config the roles read: every default filled, sizes in bytes, the plugin list completed. */
export type ResolvedDragonflyConfig = Omit<v.InferOutput<typeof ConfigSchema>, 'plugins'> & {
  plugins: DragonflyPlugin[]
  /** The file the config came from, if any. */
  configFile?: string
}

/** The defaults of every section, as the roles read them. */
export const DEFAULTS = {
  supernode: v.parse(SupernodeSchema, {}),
  peer: v.parse(PeerOptionsSchema, {}),
  daemon: v.parse(DaemonSchema, {}),
}

function isClusterUrl(value: string): boolean {
  if (value === '') return true
  if (!/^[a-z][a-z0-9+.-]*:/.test(value)) return false
  return URL.canParse(value)
}
