import { hostname, networkInterfaces } from 'node:os'
import { type DragonflyConfig, loadDragonflyConfig, type ResolvedDragonflyConfig } from '../config/index.ts'
import { createPluginSet, type PluginSet } from '../core/contract/plugin.ts'
import type { StorageDriver } from '../core/contract/storage.ts'
import { createPeer, type Peer, type PeerOptions } from '../core/peer/peer.ts'
import { loadRuntime, type Runtime } from '../runtime/index.ts'

export interface RoleContext {
  config: ResolvedDragonflyConfig
  runtime: Runtime
  plugins: PluginSet
}

/** Config file + flags, the runtime adapter and the plugin slots: what every command starts from. */
export async function createRoleContext(configFile: string | undefined, overrides: DragonflyConfig): Promise<RoleContext> {
  const config = await loadDragonflyConfig({ configFile, overrides })
  const [runtime, plugins] = await Promise.all([loadRuntime(), createPluginSet(config.plugins)])
  return { config, runtime, plugins }
}

export function openStorage(ctx: RoleContext, namespace: 'cdn' | 'peer', home = ctx.config.home): StorageDriver {
  return ctx.plugins.storage({ home, namespace })
}

/** What a peer takes from the runtime adapter: every command that makes peers hands over the same set. */
export function peerRuntime(runtime: Runtime): Pick<PeerOptions, 'createHash' | 'serve' | 'pieceGet' | 'apiFetch' | 'createPieceHasher' | 'allocate'> {
  const { createHash, serve, pieceGet, apiFetch, createPieceHasher, allocate } = runtime
  return { createHash, serve, pieceGet, apiFetch, createPieceHasher, allocate }
}

/** A peer as the config's `peer` section describes it (get and daemon). */
export function createConfiguredPeer(ctx: RoleContext, supernodes: string[], extra: Partial<PeerOptions> = {}): Peer {
  // The `peer` section is the peer's own options (core/peer/peer-options.ts), already checked and in bytes.
  const cfg = ctx.config.peer
  return createPeer({
    plugins: ctx.plugins,
    storage: openStorage(ctx, 'peer'),
    ...peerRuntime(ctx.runtime),
    ...cfg,
    supernodes,
    advertiseHost: cfg.advertiseHost ?? pickAdvertiseHost(supernodes),
    hostname: cfg.hostname ?? hostname(),
    ...extra,
  })
}

/** 127.0.0.1 when every supernode is on loopback, else the first external IPv4 of this host. */
export function pickAdvertiseHost(supernodes: string[]): string {
  const loopback = supernodes.every((s) => /^(localhost|127\.|\[::1\])/.test(new URL(s).host))
  if (loopback) return '127.0.0.1'
  for (const list of Object.values(networkInterfaces())) {
    for (const addr of list ?? []) if (addr.family === 'IPv4' && !addr.internal) return addr.address
  }
  return '127.0.0.1'
}

/** Drops undefined values so they do not override the config file. */
export function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>
}
