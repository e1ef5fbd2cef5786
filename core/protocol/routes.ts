/**
 * Every path a dragonfly server answers and a dragonfly client calls: the
 * supernode's API, the daemon's local API, the piece route both kinds of
 * node serve, and the probes. Servers mount these patterns as they are
 * (`:name` segments are hono's); clients fill them with `routePath`.
 */

/** Version prefix of the JSON APIs. */
const API = '/api/v1'

/** Liveness: answers while the process runs. Open even when plugins check requests. */
export const HEALTH_PATH = '/healthz'
/** Readiness: answers 200 only while the node takes work. Open even when plugins check requests. */
export const READY_PATH = '/readyz'
/** Prometheus text exposition. */
export const METRICS_PATH = '/metrics'

/** Prefix of the piece routes (request checks are mounted on `${PIECES_PATH}/*`). */
export const PIECES_PATH = '/pieces'
/** One piece's bytes, coded as the receiver accepts; the same on a supernode and on every peer. */
export const PIECE_ROUTE = `${PIECES_PATH}/:taskId/:piece` as const

/**
 * Which pieces a node holds for a task (`{count, have}`, base64 bitset): the
 * have-announcements of the parents protocol. `?after=N&wait=MS` answers once
 * the node holds more than N pieces, or after MS (long-poll).
 */
export const PIECE_MAP_ROUTE = `${PIECES_PATH}/:taskId` as const

/** The supernode: peer API, admin and observation, the cluster's config service. */
export const SUPERNODE_ROUTES = {
  /** The HTML dashboard. */
  dashboard: '/',
  register: `${API}/tasks/register`,
  pull: `${API}/tasks/:taskId/pull`,
  /** The parents protocol: a peer reports its holdings and gets parents, digests and first copies. */
  sync: `${API}/tasks/:taskId/sync`,
  leave: `${API}/tasks/:taskId/leave`,
  /** A peer went to the source itself. */
  backToSource: `${API}/reports/back-to-source`,
  tasks: `${API}/tasks`,
  task: `${API}/tasks/:taskId`,
  /** Base64 bitsets of who holds which piece (the dashboard's swarm view). */
  pieceMap: `${API}/tasks/:taskId/pieces`,
  status: `${API}/status`,
  /** Bytes per second over the last minutes, from the source, the supernode and peers (the dashboard's chart). */
  bandwidth: `${API}/bandwidth`,
  /** The same for one task. */
  taskBandwidth: `${API}/tasks/:taskId/bandwidth`,
  preheat: `${API}/preheat`,
  /** Long-polls a preheat with `?wait=ms`. */
  preheatState: `${API}/preheat/:taskId`,
  /** docker-registry's push notifications. */
  registryWebhook: `${API}/webhooks/registry`,
  /** Cluster mode: which supernodes a peer at `?location=` should use. */
  supernodes: `${API}/supernodes`,
} as const

/** The daemon's local API (`dragonfly get` hands downloads to it). */
export const DAEMON_ROUTES = {
  /** Answers `{dragonfly: 'daemon', …}`: how `get` tells a daemon from another server. */
  hello: `${API}/daemon`,
  download: `${API}/download`,
  tasks: `${API}/tasks`,
  task: `${API}/tasks/:taskId`,
} as const

type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<Rest>
  : P extends `${string}:${infer Name}`
    ? Name
    : never

/** A route pattern with each `:name` segment filled, URI-encoded. */
export function routePath<P extends string>(pattern: P, params: Record<ParamNames<P>, string | number>): string {
  const values = params as Record<string, string | number>
  return pattern.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(String(values[name])))
}

/** `path` on the server at `base` (trailing slashes of `base` dropped). */
export function serverUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}${path}`
}

/** Where a piece server at `base` (`http://host:port`) serves a piece. */
export function pieceUrl(base: string, taskId: string, piece: number): string {
  return `${base}${routePath(PIECE_ROUTE, { taskId, piece })}`
}
