import type { loadConfig } from 'c12'
import { createDefu } from 'defu'
import { readdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import * as v from 'valibot'
import { createError, ERROR_CODES, type ErrorCode, isDragonflyError } from '../core/errors.ts'
import { checkPlugin, type DragonflyPlugin } from '../core/contract/plugin.ts'
import { isSize } from '../core/size.ts'
import sourceHttp from '../plugins/source-http/index.ts'
import storageFs from '../plugins/storage-fs/index.ts'

export interface SupernodeConfig {
  /** @default 8002 */
  port?: number
  /** @default '0.0.0.0' */
  host?: string
  /** How long a pull waits for work before answering empty. @default 15000 */
  longPollMs?: number
  /** Concurrent uploads the supernode offers per task. @default 48 */
  uploadSlots?: number
  /** Concurrent uploads assumed for a peer that does not say. @default 6 */
  peerSlots?: number
  /** An assignment not reported back within this is reclaimed. @default 30000 */
  pieceTimeoutMs?: number
  /** Source hosts the supernode may fetch from (`*.example.com`); empty = any. @default [] */
  allowSources?: string[]
  /** Source hosts refused, on top of the cloud metadata endpoints that are always refused. @default [] */
  denySources?: string[]
  /** Disk quota of the CDN cache (`50GB`, or bytes); 0 = unlimited. @default 0 */
  cacheQuota?: string | number
  /** Eviction starts above this share of the quota... @default 0.9 */
  highWatermark?: number
  /** ...and stops below this share. @default 0.7 */
  lowWatermark?: number
  /** Bytes/s read from sources, and served to peers, across all tasks (`100MB`); 0 = unlimited. @default 0 */
  totalLimit?: string | number
  /** Cluster store shared with the other supernodes, e.g. `redis://redis:6379` (docs/cluster.md); '' = alone. @default '' */
  cluster?: string
  /** `region|zone|rack` of this supernode: the config service sends peers to the nearest. @default '' */
  location?: string
  /** URL peers and other supernodes reach this one at. @default http://<host>:<port> (127.0.0.1 for 0.0.0.0) */
  advertiseUrl?: string
  /** Lifetime of a source lease and of an announcement: how long a dead supernode's work waits. @default 6000 */
  clusterLeaseMs?: number
}

export interface PeerConfig {
  /** Supernode base URLs, tried in order. */
  supernodes?: string[]
  /** `region|zone|rack`; peers sharing a prefix are preferred. */
  location?: string
  /** Pieces fetched in parallel. @default 8 */
  concurrency?: number
  /** Concurrent uploads offered to other peers. @default 6 */
  uploadSlots?: number
  /** @default 30000 */
  pieceTimeoutMs?: number
  /** Go to the source when no supernode answers. @default true */
  backSource?: boolean
  /** Address other peers reach this one at. @default 127.0.0.1 for a loopback supernode, else the first external IPv4 */
  advertiseHost?: string
  /** Interface the piece server binds. @default the advertised host */
  listenHost?: string
  /** Bytes/s each task downloads, and uploads (`20MB`, `512KB`); 0 = unlimited. @default 0 */
  rateLimit?: string | number
  /** Bytes/s this host downloads, and uploads, across concurrent tasks; 0 = unlimited. @default 0 */
  totalLimit?: string | number
  /** How often the list of supernodes is asked again from the cluster's config service. @default 30000 */
  supernodeRefreshMs?: number
}

export interface DaemonConfig {
  /** Port of the registry mirror, HTTP proxy and local API. @default 65001 */
  port?: number
  /** Interface that port listens on; the local API trusts whoever reaches it, so keep it local. @default '127.0.0.1' */
  host?: string
  /** Port of the piece server other hosts download from (0 picks a free one). @default 65002 */
  uploadPort?: number
  /** Default upstream registry for `/v2/…` requests, e.g. `https://registry-1.docker.io`. */
  registryMirror?: string
  /** Registry hosts (`host` or `host:port`) reached over plain http; loopback hosts always are. @default [] */
  insecureRegistries?: string[]
  /** Regular expressions: proxied GETs whose URL matches one go through the swarm. @default [] */
  proxyRules?: string[]
  /** Disk quota of the daemon's cache (`20GB`, or bytes); 0 = unlimited. @default 0 */
  cacheQuota?: string | number
  /** Eviction starts above this share of the quota... @default 0.9 */
  highWatermark?: number
  /** ...and stops below this share. @default 0.7 */
  lowWatermark?: number
}

export interface DragonflyConfig {
  /** Data directory of every role. @default ~/.dragonfly */
  home?: string
  /** Replaces the default list; storage-fs and source-http are added when no plugin fills their slots. */
  plugins?: DragonflyPlugin[]
  supernode?: SupernodeConfig
  peer?: PeerConfig
  daemon?: DaemonConfig
}

export interface ResolvedDragonflyConfig {
  home: string
  plugins: DragonflyPlugin[]
  supernode: Required<SupernodeConfig>
  peer: PeerConfig & Required<Pick<PeerConfig, 'supernodes' | 'concurrency' | 'uploadSlots' | 'pieceTimeoutMs' | 'backSource' | 'supernodeRefreshMs'>>
  daemon: DaemonConfig & Required<Omit<DaemonConfig, 'registryMirror'>>
  /** The file the config came from, if any. */
  configFile?: string
}

/** Typed identity helper for `dragonfly.config.ts`. */
export function defineConfig(config: DragonflyConfig): DragonflyConfig {
  return config
}

export const DEFAULTS = {
  supernode: { port: 8002, host: '0.0.0.0', longPollMs: 15_000, uploadSlots: 48, peerSlots: 6, pieceTimeoutMs: 30_000, allowSources: [] as string[], denySources: [] as string[], cacheQuota: 0 as string | number, highWatermark: 0.9, lowWatermark: 0.7, totalLimit: 0 as string | number, cluster: '', location: '', advertiseUrl: '', clusterLeaseMs: 6_000 },
  peer: { supernodes: [] as string[], concurrency: 8, uploadSlots: 6, pieceTimeoutMs: 30_000, backSource: true, supernodeRefreshMs: 30_000 },
  daemon: { port: 65001, host: '127.0.0.1', uploadPort: 65002, insecureRegistries: [] as string[], proxyRules: [] as string[], cacheQuota: 0 as string | number, highWatermark: 0.9, lowWatermark: 0.7 },
} satisfies DragonflyConfig

/** Arrays from the user replace the defaults instead of being concatenated. */
const merge = createDefu((object, key, value) => {
  if (Array.isArray(value)) {
    ;(object as Record<string, unknown>)[key as string] = value
    return true
  }
  return false
})

const Size = v.union([v.pipe(v.string(), v.check((s: string) => isSize(s), 'must look like 512KB, 20MB or 2GB')), v.pipe(v.number(), v.minValue(0))])
const Port = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(65535))
const Positive = v.pipe(v.number(), v.integer(), v.minValue(1))
const ConfigSchema = v.object({
  home: v.optional(v.string()),
  plugins: v.optional(v.array(v.looseObject({ name: v.string() }))),
  supernode: v.optional(
    v.strictObject({
      port: v.optional(Port),
      host: v.optional(v.string()),
      longPollMs: v.optional(Positive),
      uploadSlots: v.optional(Positive),
      peerSlots: v.optional(Positive),
      pieceTimeoutMs: v.optional(Positive),
      allowSources: v.optional(v.array(v.string())),
      denySources: v.optional(v.array(v.string())),
      cacheQuota: v.optional(Size),
      highWatermark: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
      lowWatermark: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
      totalLimit: v.optional(Size),
      cluster: v.optional(v.union([v.literal(''), v.pipe(v.string(), v.url(), v.regex(/^[a-z][a-z0-9+.-]*:/, 'must be a URL like redis://host:6379'))])),
      location: v.optional(v.pipe(v.string(), v.maxLength(256))),
      advertiseUrl: v.optional(v.union([v.literal(''), v.pipe(v.string(), v.regex(/^https?:\/\/[^/\s]+$/, 'must be http(s)://host:port'))])),
      clusterLeaseMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(500), v.maxValue(600_000))),
    }),
  ),
  peer: v.optional(
    v.strictObject({
      supernodes: v.optional(v.array(v.pipe(v.string(), v.url()))),
      location: v.optional(v.string()),
      concurrency: v.optional(Positive),
      uploadSlots: v.optional(Positive),
      pieceTimeoutMs: v.optional(Positive),
      backSource: v.optional(v.boolean()),
      advertiseHost: v.optional(v.string()),
      listenHost: v.optional(v.string()),
      rateLimit: v.optional(Size),
      totalLimit: v.optional(Size),
      supernodeRefreshMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1_000))),
    }),
  ),
  daemon: v.optional(
    v.strictObject({
      port: v.optional(Port),
      host: v.optional(v.string()),
      uploadPort: v.optional(Port),
      registryMirror: v.optional(v.pipe(v.string(), v.url())),
      insecureRegistries: v.optional(v.array(v.string())),
      proxyRules: v.optional(v.array(v.pipe(v.string(), v.check(isRegExp, 'not a valid regular expression')))),
      cacheQuota: v.optional(Size),
      highWatermark: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
      lowWatermark: v.optional(v.pipe(v.number(), v.minValue(0), v.maxValue(1))),
    }),
  ),
})

function isRegExp(source: string): boolean {
  try {
    new RegExp(source)
    return true
  } catch {
    return false
  }
}

export interface LoadOptions {
  /** Explicit config file (`--config`); must exist. */
  configFile?: string
  cwd?: string
  /** Values from CLI flags; they win over the file. */
  overrides?: DragonflyConfig
}

/** Loads `dragonfly.config.{ts,mjs,js,json}` with c12, merges defaults with defu and validates. */
export async function loadDragonflyConfig(options: LoadOptions = {}): Promise<ResolvedDragonflyConfig> {
  const cwd = options.cwd ?? process.cwd()
  const file = options.configFile ? resolve(cwd, options.configFile) : undefined
  let loaded: Pick<Awaited<ReturnType<typeof loadConfig<DragonflyConfig>>>, 'config' | 'configFile' | '_configFile'>
  try {
    // c12 (and the jiti it brings) is loaded only when there is a file for it to read: measured, a
    // third of a short `get`'s CPU went to V8 lexing and optimizing for jiti's CommonJS build.
    if (!file && !(await mayHaveConfigFile(cwd))) loaded = { config: {} }
    else loaded = await (await import('c12')).loadConfig<DragonflyConfig>({
      name: 'dragonfly',
      cwd,
      configFile: file,
      configFileRequired: file !== undefined,
      rcFile: false,
      globalRc: false,
      packageJson: false,
      dotenv: false,
      giget: false,
      merger: merge as never,
    })
  } catch (error) {
    // A plugin factory refusing its options while the file is evaluated: say which file.
    // (The file's imports may load their own copy of core/errors.ts, hence the duck-typed code.)
    const code = (error as { code?: unknown })?.code
    if (isDragonflyError(error) || (typeof code === 'string' && code in ERROR_CODES)) {
      throw createError(code as ErrorCode, `${file ?? `dragonfly.config.* in ${cwd}`}: ${(error as Error).message}`, { cause: error })
    }
    throw createError('E_CONFIG', `cannot load config ${file ?? `dragonfly.config.* in ${cwd}`}: ${(error as Error)?.message ?? error}`, { cause: error })
  }
  return resolveConfig(merge({}, options.overrides ?? {}, loaded.config ?? {}) as DragonflyConfig, loaded.configFile && loaded._configFile ? loaded._configFile : file)
}

/**
 * Whether c12 could find a config in `cwd`: `dragonfly.config.*`, or
 * `.config/dragonfly.*` / `.config/dragonfly.config.*` (its lookup). True
 * when the directory cannot be listed: c12 then decides.
 */
async function mayHaveConfigFile(cwd: string): Promise<boolean> {
  const names = async (dir: string): Promise<string[] | null> => readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' || error.code === 'ENOTDIR' ? [] : null))
  const here = await names(cwd)
  const dotConfig = await names(join(cwd, '.config'))
  if (here === null || dotConfig === null) return true
  return here.some((n) => /^dragonfly\.config\.[^.]+$/.test(n)) || dotConfig.some((n) => /^dragonfly(\.config)?\.[^.]+$/.test(n))
}

/** Validates and fills defaults; the one place the config's shape is checked. */
export function resolveConfig(config: DragonflyConfig, configFile?: string): ResolvedDragonflyConfig {
  const where = configFile ?? 'config'
  const result = v.safeParse(ConfigSchema, config)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue?.path?.map((p) => String(p.key)).join('.') ?? ''
    throw createError('E_CONFIG', `${where}: ${path ? `${path}: ` : ''}${issue?.message}`)
  }
  const merged = merge({}, config, DEFAULTS) as DragonflyConfig
  const plugins = resolvePlugins(config.plugins)
  for (const plugin of plugins) {
    try {
      checkPlugin(plugin)
    } catch (error) {
      throw createError('E_PLUGIN', `${where}: ${(error as Error).message}`, { cause: error })
    }
  }
  return {
    home: resolve(config.home ?? join(homedir(), '.dragonfly')),
    plugins,
    supernode: merged.supernode as Required<SupernodeConfig>,
    peer: merged.peer as ResolvedDragonflyConfig['peer'],
    daemon: merged.daemon as ResolvedDragonflyConfig['daemon'],
    ...(configFile ? { configFile } : {}),
  }
}

/** The user's list, plus the plugins core cannot run without when nothing else fills their slots. */
export function resolvePlugins(plugins: DragonflyPlugin[] = [storageFs(), sourceHttp()]): DragonflyPlugin[] {
  const out = [...plugins]
  if (!out.some((p) => p.storage)) out.unshift(storageFs())
  if (!out.some((p) => p.source?.protocols.includes('http:'))) out.unshift(sourceHttp())
  return out
}
