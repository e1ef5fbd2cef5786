import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { loadConfig } from 'c12'
import { createDefu } from 'defu'
import { createError, ERROR_CODES, type ErrorCode, isDragonflyError } from '../core/errors.ts'
import { resolveConfig } from './resolve.ts'
import type { DragonflyConfig, ResolvedDragonflyConfig } from './schema.ts'

export interface LoadOptions {
  /** Explicit config file (`--config`); must exist. */
  configFile?: string
  cwd?: string
  /** Values from CLI flags; they win over the file. */
  overrides?: DragonflyConfig
  /** Where `DRAGONFLY_CONFIG` is read. @default process.env */
  env?: Record<string, string | undefined>
  /** The system-wide config folder, used when neither `--config`, `DRAGONFLY_CONFIG` nor the working directory names a file. @default '/etc/dragonfly' */
  systemDir?: string
}

export const SYSTEM_CONFIG_DIR = '/etc/dragonfly'

/**
 * The file to load, first found: `--config`, `DRAGONFLY_CONFIG`, a
 * `dragonfly.config.*` in the working directory (c12's lookup), then one in
 * the system-wide folder. Undefined: c12 looks in `cwd` (or nothing is loaded).
 */
async function pickConfigFile(options: LoadOptions, cwd: string): Promise<{ file?: string; cwd: string }> {
  if (options.configFile) return { file: resolve(cwd, options.configFile), cwd }
  const fromEnv = (options.env ?? process.env).DRAGONFLY_CONFIG
  if (fromEnv) return { file: resolve(cwd, fromEnv), cwd }
  if (await mayHaveConfigFile(cwd)) return { cwd }
  const systemDir = options.systemDir ?? SYSTEM_CONFIG_DIR
  const names = await readdir(systemDir).catch(() => [] as string[])
  const found = names.filter((n) => /^dragonfly\.config\.(ts|mts|js|mjs|json)$/.test(n)).sort()[0]
  return found ? { file: join(systemDir, found), cwd: systemDir } : { cwd }
}

/**
 * Arrays from the user replace the defaults instead of being concatenated. A
 * section (flags) laid over something that is not one (`"peer": 3` in the
 * file) leaves that in place for the schema to report, rather than hiding it.
 */
const merge = createDefu((object, key, value) => {
  const under = (object as Record<string, unknown>)[key as string]
  if (isSection(value) && under !== null && under !== undefined && !isSection(under)) return true
  if (Array.isArray(value)) {
    ;(object as Record<string, unknown>)[key as string] = value
    return true
  }
  return false
})

/** Loads `dragonfly.config.{ts,mjs,js,json}` with c12, lays the flags over it, then checks it and fills the defaults. */
export async function loadDragonflyConfig(options: LoadOptions = {}): Promise<ResolvedDragonflyConfig> {
  const picked = await pickConfigFile(options, options.cwd ?? process.cwd())
  const { file, cwd } = picked
  let loaded: Pick<Awaited<ReturnType<typeof loadConfig<DragonflyConfig>>>, 'config' | 'configFile' | '_configFile'>
  try {
    // c12 (and the jiti it brings) is loaded only when there is a file for it to read: measured, a
    // third of a short `get`'s CPU went to V8 lexing and optimizing for jiti's CommonJS build.
    if (!file && !(await mayHaveConfigFile(cwd))) loaded = { config: {} }
    else
      loaded = await (await import('c12')).loadConfig<DragonflyConfig>({
        name: 'dragonfly',
        cwd,
        configFile: file,
        configFileRequired: file !== undefined,
        rcFile: false,
        globalRc: false,
        packageJson: false,
        dotenv: false,
        giget: false,
        // c12's own keys (`$production: {...}`, `$env`) are applied by c12; left in, the schema would call them unknown.
        omit$Keys: true,
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
  return resolveConfig(
    merge({}, options.overrides ?? {}, loaded.config ?? {}) as DragonflyConfig,
    loaded.configFile && loaded._configFile ? loaded._configFile : file,
  )
}

function isSection(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Whether c12 could find a config in `cwd`: `dragonfly.config.*`, or
 * `.config/dragonfly.*` / `.config/dragonfly.config.*` (its lookup). True
 * when the directory cannot be listed: c12 then decides.
 */
async function mayHaveConfigFile(cwd: string): Promise<boolean> {
  const names = async (dir: string): Promise<string[] | null> =>
    readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' || error.code === 'ENOTDIR' ? [] : null))
  const here = await names(cwd)
  const dotConfig = await names(join(cwd, '.config'))
  if (here === null || dotConfig === null) return true
  return here.some((n) => /^dragonfly\.config\.[^.]+$/.test(n)) || dotConfig.some((n) => /^dragonfly(\.config)?\.[^.]+$/.test(n))
}
