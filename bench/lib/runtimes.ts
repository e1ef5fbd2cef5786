import { writeFileSync } from 'node:fs'
import { resolve } from 'node:path'

export type RuntimeName = 'node' | 'bun' | 'deno'
const NAMES: readonly RuntimeName[] = ['node', 'bun', 'deno']

const BIN_DIR = resolve(import.meta.dirname, '../../node_modules/.bin')

/**
 * The command that runs the CLI file `bin` on `runtime`: the runtime's own
 * binary (the npm packages link ELF files, so the process measured is the
 * runtime itself, not a shim).
 */
export function runtimeCommand(runtime: RuntimeName, bin: string): [string, ...string[]] {
  if (runtime === 'bun') return [resolve(BIN_DIR, 'bun'), bin]
  if (runtime === 'deno') return [resolve(BIN_DIR, 'deno'), 'run', '-A', bin]
  return [process.execPath, bin]
}

/** Environment every bench process on Deno gets (no update check or prompt while measured). */
export const RUNTIME_ENV: Record<string, string> = { DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' }

/** `--<name> node|bun|deno` from argv, or `fallback`. */
export function runtimeFlag(name: string, fallback: RuntimeName): RuntimeName {
  const i = process.argv.indexOf(`--${name}`)
  if (i < 0) return fallback
  const value = process.argv[i + 1] as RuntimeName
  if (!NAMES.includes(value)) throw new Error(`--${name} must be one of ${NAMES.join(', ')}`)
  return value
}

/** Starts a new peak-RSS window for `pid` (Linux: VmHWM back to the current RSS); false where that is refused. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}
