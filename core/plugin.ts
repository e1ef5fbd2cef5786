import { createError } from './errors.ts'
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
  encode(data: Uint8Array, context: PieceContext): Promise<Uint8Array | null>
  decode(data: Uint8Array, context: PieceContext): Promise<Uint8Array>
}

export interface PluginHooks {
  /** Adds headers to requests toward a source (credentials by URL pattern, ...). */
  sourceHeaders?(url: string, headers: Record<string, string>): Record<string, string> | void
  /** Adds headers to requests toward a supernode or another peer. */
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
}

/** Typed identity helper for plugin authors: `export default definePlugin((opts: O) => ({ name, ... }))`. */
export function definePlugin<O = void>(factory: (options: O) => DragonflyPlugin): (options: O) => DragonflyPlugin {
  return factory
}

export interface PluginSet {
  plugins: DragonflyPlugin[]
  storage: StorageFactory
  sources: Map<string, SourceAdapter>
  transforms: PieceTransform[]
  hooks: PluginHooks[]
}

const STAGE_ORDER: Record<PieceTransform['stage'], number> = { compress: 0, custom: 1, encrypt: 2 }

/** Sorts the plugins into capability slots; later plugins win a protocol or the storage slot. */
export function createPluginSet(plugins: DragonflyPlugin[]): PluginSet {
  let storage: StorageFactory | undefined
  const sources = new Map<string, SourceAdapter>()
  const transforms: PieceTransform[] = []
  const hooks: PluginHooks[] = []
  for (const plugin of plugins) {
    if (!plugin || typeof plugin !== 'object' || typeof plugin.name !== 'string') {
      throw createError('E_PLUGIN', `a plugin must be an object with a name, got ${JSON.stringify(plugin)}`)
    }
    if (plugin.storage) storage = plugin.storage
    if (plugin.source) for (const p of plugin.source.protocols) sources.set(p, plugin.source)
    if (plugin.transform) transforms.push(plugin.transform)
    if (plugin.hooks) hooks.push(plugin.hooks)
  }
  if (!storage) throw createError('E_PLUGIN', 'no plugin fills the storage slot (add storageFs() to plugins)')
  transforms.sort((a, b) => STAGE_ORDER[a.stage] - STAGE_ORDER[b.stage])
  return { plugins, storage, sources, transforms, hooks }
}
