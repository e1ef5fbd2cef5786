import { createError } from '../errors.ts'
import type { ClusterBackend } from './cluster-store.ts'
import type { StorageFactory } from './storage.ts'

/** What a source adapter is asked for. Headers are the user's, as given. */
export interface SourceRequest {
  url: string
  headers: Record<string, string>
  /** Byte range [start, end] inclusive; end open when omitted. */
  range?: { start: number; end?: number }
  /** Conditional request validators from a cached copy. */
  validators?: { etag?: string; lastModified?: string }
  method?: 'GET' | 'HEAD'
  signal?: AbortSignal
  /**
   * The `fetch` to connect with, where core hands one: on supernodes and daemons it connects only to
   * addresses the SSRF guard accepts (docs/security.md). Network adapters should use it.
   */
  fetch?: typeof fetch
}

/**
 * A source adapter answers with a Web `Response`: status, headers
 * (content-length, etag, last-modified, content-range) and a streamed body.
 */
export interface SourceAdapter {
  /** URL protocols handled, with the colon: `['http:', 'https:']`. */
  protocols: string[]
  fetch(request: SourceRequest): Promise<Response>
}

export interface PieceContext {
  taskId: string
  piece: number
  /** Which of the transform's codings is in use (`coding` or one of `codings`). */
  coding?: string
  /** On decode: the piece's original size, so a decoder can refuse to expand past it. */
  size?: number
}

/**
 * Encodes a piece for the wire and decodes it back. Digests always cover the
 * decoded (original) bytes. `stage` orders transforms: compress before
 * encrypt whatever the list order.
 */
export interface PieceTransform {
  stage: 'compress' | 'encrypt' | 'custom'
  /** Content-coding token sent in `x-dragonfly-coding`. */
  coding: string
  /** Other tokens this transform also handles, in preference order after `coding` (e.g. `deflate` after `gzip`). */
  codings?: string[]
  /** A piece server refuses (406) a receiver that does not accept this coding, instead of sending without it. */
  required?: boolean
  /** Returns null to send the piece without this coding (e.g. compressing would not pay off). */
  encode(data: Uint8Array, context: PieceContext): Promise<Uint8Array | null>
  decode(data: Uint8Array, context: PieceContext): Promise<Uint8Array>
}

export interface PluginHooks {
  /** Adds headers to requests toward a source (credentials by URL pattern, ...). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that adds nothing may simply not return
  sourceHeaders?(url: string, headers: Record<string, string>): Record<string, string> | void
  /** Adds headers to requests toward a supernode or another peer. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a hook that adds nothing may simply not return
  outgoingHeaders?(url: string): Record<string, string> | void
  /** Checks an incoming request to a supernode or piece server; throw a DragonflyError to refuse. */
  checkRequest?(request: Request): void | Promise<void>
}

export interface DragonflyPlugin {
  name: string
  source?: SourceAdapter
  storage?: StorageFactory
  transform?: PieceTransform
  hooks?: PluginHooks
  /** The store supernodes of a cluster share state through, by `--cluster` URL protocol (docs/cluster.md). */
  cluster?: ClusterBackend
}

/**
 * Typed identity helper for plugin authors:
 * `export default definePlugin((options: MyOptions = {}) => ({ name, ... }))`.
 * The factory keeps its parameters as written (an options object with a
 * default stays optional), and the slots it fills are typed as filled while
 * still callable as the contract says (`storage(context)`).
 */
export function definePlugin<A extends unknown[], P extends DragonflyPlugin>(factory: (...args: A) => P): (...args: A) => P & DragonflyPlugin {
  return factory
}

export interface PluginSet {
  plugins: DragonflyPlugin[]
  storage: StorageFactory
  sources: Map<string, SourceAdapter>
  transforms: PieceTransform[]
  hooks: PluginHooks[]
  clusters: Map<string, ClusterBackend>
}

/** The headers every plugin's `outgoingHeaders` hook adds to a request to `url` (later plugins win a name). */
export function outgoingHeaders(plugins: PluginSet, url: string): Record<string, string> {
  let headers: Record<string, string> = {}
  for (const hook of plugins.hooks) headers = { ...headers, ...hook.outgoingHeaders?.(url) }
  return headers
}

const STAGE_ORDER: Record<PieceTransform['stage'], number> = { compress: 0, custom: 1, encrypt: 2 }

/** Sorts the plugins into capability slots; later plugins win a protocol or the storage slot. */
export function createPluginSet(plugins: DragonflyPlugin[]): PluginSet {
  let storage: StorageFactory | undefined
  const sources = new Map<string, SourceAdapter>()
  const transforms: PieceTransform[] = []
  const hooks: PluginHooks[] = []
  const clusters = new Map<string, ClusterBackend>()
  for (const plugin of plugins) {
    checkPlugin(plugin)
    if (plugin.storage) storage = plugin.storage
    if (plugin.source) for (const p of plugin.source.protocols) sources.set(p, plugin.source)
    if (plugin.transform) transforms.push(plugin.transform)
    if (plugin.hooks) hooks.push(plugin.hooks)
    if (plugin.cluster) for (const p of plugin.cluster.protocols) clusters.set(p, plugin.cluster)
  }
  if (!storage) throw createError('E_PLUGIN', 'no plugin fills the storage slot (add storageFs() to plugins)')
  transforms.sort((a, b) => STAGE_ORDER[a.stage] - STAGE_ORDER[b.stage])
  return { plugins, storage, sources, transforms, hooks, clusters }
}

const STAGES = new Set(Object.keys(STAGE_ORDER))
const TOKEN_RE = /^[a-z0-9][a-z0-9._-]{0,31}$/

/** Refuses a plugin whose slots do not have the contract's shape, naming the plugin and the slot. */
export function checkPlugin(plugin: DragonflyPlugin): void {
  if (!plugin || typeof plugin !== 'object' || typeof plugin.name !== 'string' || !plugin.name) {
    throw createError('E_PLUGIN', `a plugin must be an object with a name, got ${describe(plugin)}`)
  }
  const bad = (slot: string, why: string): never => {
    throw createError('E_PLUGIN', `plugin ${plugin.name}: ${slot} ${why}`)
  }
  const known = new Set(['name', 'source', 'storage', 'transform', 'hooks', 'cluster', 'options'])
  for (const key of Object.keys(plugin)) if (!known.has(key)) bad(key, `is not a plugin slot (slots: source, storage, transform, hooks, cluster)`)
  const { source, storage, transform, hooks, cluster } = plugin
  if (cluster !== undefined) {
    if (!Array.isArray(cluster?.protocols) || !cluster.protocols.every((p) => typeof p === 'string' && p.endsWith(':')))
      bad('cluster.protocols', "must be a list like ['redis:']")
    if (typeof cluster.connect !== 'function') bad('cluster.connect', 'must be a function')
  }
  if (source !== undefined) {
    if (!Array.isArray(source?.protocols) || !source.protocols.every((p) => typeof p === 'string' && p.endsWith(':')))
      bad('source.protocols', "must be a list like ['http:']")
    if (typeof source.fetch !== 'function') bad('source.fetch', 'must be a function')
  }
  if (storage !== undefined && typeof storage !== 'function') bad('storage', 'must be a function (context) => StorageDriver')
  if (transform !== undefined) {
    if (!STAGES.has(transform?.stage)) bad('transform.stage', `must be compress, custom or encrypt, got ${describe(transform?.stage)}`)
    for (const c of [transform.coding, ...(transform.codings ?? [])]) {
      if (typeof c !== 'string' || !TOKEN_RE.test(c) || c === 'identity')
        bad('transform.coding', `must be a lower-case token other than identity, got ${describe(c)}`)
    }
    if (typeof transform.encode !== 'function' || typeof transform.decode !== 'function') bad('transform', 'needs encode and decode functions')
  }
  if (hooks !== undefined) {
    if (!hooks || typeof hooks !== 'object') bad('hooks', 'must be an object')
    for (const [k, fn] of Object.entries(hooks)) {
      if (!['sourceHeaders', 'outgoingHeaders', 'checkRequest'].includes(k)) bad(`hooks.${k}`, 'is not a hook (sourceHeaders, outgoingHeaders, checkRequest)')
      if (typeof fn !== 'function') bad(`hooks.${k}`, 'must be a function')
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'function') return 'a function'
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}
