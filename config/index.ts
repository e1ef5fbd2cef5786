/** `dragonfly/config`: the config file's schema, its types and defaults, and the loader. */
import type { DragonflyConfig } from './schema.ts'

export type { ConfigProblem } from './issues.ts'
export { type LoadOptions, loadDragonflyConfig } from './load.ts'
export { resolveConfig, resolvePlugins } from './resolve.ts'
export type { DaemonConfig, DragonflyConfig, PeerConfig, ResolvedDragonflyConfig, SupernodeConfig } from './schema.ts'
export { ConfigSchema, DEFAULTS } from './schema.ts'

/** Typed identity helper for `dragonfly.config.ts`. */
export function defineConfig(config: DragonflyConfig): DragonflyConfig {
  return config
}
