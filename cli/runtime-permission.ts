import { createError, type DragonflyError } from '../core/errors.ts'

/** What `deno run` needs, as docs/runtimes.md lists it. */
export const DENO_PERMISSIONS = '--allow-net --allow-read --allow-write --allow-env --allow-sys'

const words: Record<string, string> = {
  net: 'network access (--allow-net)',
  read: 'reading files (--allow-read)',
  write: 'writing files (--allow-write)',
  env: 'environment variables (--allow-env)',
  sys: 'system information such as network interfaces (--allow-sys)',
  run: 'starting processes (--allow-run)',
  ffi: 'native libraries (--allow-ffi)',
}

/**
 * Deno's refusal of a permission (NotCapable, PermissionDenied), found in an
 * error or its causes, as an error that says which permission in words.
 */
export function permissionError(error: unknown): DragonflyError | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as { name?: unknown }).name
    if (name !== 'NotCapable' && name !== 'PermissionDenied') continue
    const message = String((e as { message?: unknown }).message ?? '')
    const kind = /Requires (\w+) access/.exec(message)?.[1] ?? /--allow-(\w+)/.exec(message)?.[1] ?? ''
    const what = words[kind] ?? 'a permission'
    return createError('E_PERMISSION', `Deno did not allow ${what}: ${message.split('\n')[0]}. Run: deno run ${DENO_PERMISSIONS} npm:dragonfly ...`, {
      cause: error,
      details: { permission: kind || undefined },
    })
  }
  return undefined
}
