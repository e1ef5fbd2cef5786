import { createError, DragonflyError } from '../core/errors.ts'

export interface ListenFlags {
  /** The flag that chose the port, e.g. `--port`. */
  port: string
  /** The flag that chose the interface, if the command has one. */
  host?: string
}

const IN_USE = new Set(['EADDRINUSE', 'AddrInUse'])
const UNAVAILABLE = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'AddrNotAvailable', 'EACCES', 'PermissionDenied'])

/**
 * A server that could not start because of what the user chose (a taken port,
 * a host that is not this machine's) is the user's to fix: say which flag,
 * not E_INTERNAL. Node, Bun and Deno name the same failures differently.
 */
export function listenError(error: unknown, flags: ListenFlags, where: string): DragonflyError {
  if (error instanceof DragonflyError) return error
  const e = error as { code?: unknown; name?: unknown; message?: unknown }
  const kind = [e?.code, e?.name].find((k): k is string => typeof k === 'string' && (IN_USE.has(k) || UNAVAILABLE.has(k)))
  const said = typeof e?.message === 'string' ? e.message : String(error)
  if (kind && IN_USE.has(kind))
    return createError('E_ADDRESS_IN_USE', `cannot listen on ${where}: the port is in use; choose another with ${flags.port} (0 picks a free one)`, {
      cause: error,
      details: { flag: flags.port },
    })
  if (kind === 'EACCES' || kind === 'PermissionDenied')
    return createError('E_ADDRESS_UNAVAILABLE', `cannot listen on ${where}: not allowed (ports below 1024 need privileges); choose another ${flags.port}`, {
      cause: error,
      details: { flag: flags.port },
    })
  if (kind && flags.host)
    return createError('E_ADDRESS_UNAVAILABLE', `cannot listen on ${where}: not an address of this machine (${said}); fix ${flags.host}`, {
      cause: error,
      details: { flag: flags.host },
    })
  return createError('E_INTERNAL', `cannot listen on ${where}: ${said}`, { cause: error })
}
