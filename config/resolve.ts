import * as v from 'valibot'
import { checkPlugin, type DragonflyPlugin } from '../core/contract/plugin.ts'
import { createError } from '../core/errors.ts'
import sourceHttp from '../plugins/source-http/index.ts'
import storageFs from '../plugins/storage-fs/index.ts'
import { describeIssue, formatProblems, toProblems } from './issues.ts'
import { ConfigSchema, type DragonflyConfig, type ResolvedDragonflyConfig } from './schema.ts'

/**
 * Checks the config against the schema and fills the defaults: every problem
 * at once (E_CONFIG), then each plugin (E_PLUGIN). `configFile` names where
 * the config came from in those errors.
 */
export function resolveConfig(config: DragonflyConfig, configFile?: string): ResolvedDragonflyConfig {
  const where = configFile ?? 'config'
  const result = v.safeParse(ConfigSchema, config, { message: describeIssue })
  if (!result.success) {
    const problems = toProblems(result.issues, ConfigSchema)
    throw createError('E_CONFIG', formatProblems(where, problems), { details: { problems } })
  }
  const plugins = resolvePlugins(result.output.plugins)
  for (const plugin of plugins) {
    try {
      checkPlugin(plugin)
    } catch (error) {
      throw createError('E_PLUGIN', `${where}: ${(error as Error).message}`, { cause: error })
    }
  }
  return { ...result.output, plugins, ...(configFile ? { configFile } : {}) }
}

/** The user's list, plus the plugins core cannot run without when nothing else fills their slots. */
export function resolvePlugins(plugins: DragonflyPlugin[] = [storageFs(), sourceHttp()]): DragonflyPlugin[] {
  const out = [...plugins]
  if (!out.some((p) => p.storage)) out.unshift(storageFs())
  if (!out.some((p) => p.source?.protocols.includes('http:'))) out.unshift(sourceHttp())
  return out
}
