/**
 * Every failure the user can see carries a stable `code`. The HTTP layer maps
 * it to a status once (`toErrorResponse` in protocol/error-body.ts), the CLI
 * maps it to an exit code.
 */
export const ERROR_CODES = {
  E_BAD_REQUEST: { status: 400, exit: 2 },
  E_BAD_ARGUMENT: { status: 400, exit: 2 },
  E_UNSUPPORTED_SCHEME: { status: 400, exit: 2 },
  E_UNAUTHORIZED: { status: 401, exit: 3 },
  E_FORBIDDEN: { status: 403, exit: 3 },
  E_UNKNOWN_TASK: { status: 404, exit: 4 },
  E_UNKNOWN_PEER: { status: 404, exit: 4 },
  E_PIECE_NOT_FOUND: { status: 404, exit: 4 },
  E_NOT_FOUND: { status: 404, exit: 4 },
  E_NOT_ACCEPTABLE: { status: 406, exit: 3 },
  E_PAYLOAD_TOO_LARGE: { status: 413, exit: 2 },
  E_UNSUPPORTED_MEDIA_TYPE: { status: 415, exit: 2 },
  E_DIGEST_MISMATCH: { status: 422, exit: 5 },
  E_SOURCE_STATUS: { status: 502, exit: 6 },
  E_SOURCE_UNREACHABLE: { status: 502, exit: 6 },
  E_SOURCE_TRUNCATED: { status: 502, exit: 6 },
  E_SOURCE_TOO_LONG: { status: 502, exit: 6 },
  E_NO_SUPERNODE: { status: 503, exit: 7 },
  E_NOT_READY: { status: 503, exit: 7 },
  E_CLUSTER: { status: 503, exit: 7 },
  E_DOWNLOAD_FAILED: { status: 502, exit: 8 },
  E_CONFIG: { status: 500, exit: 9 },
  E_PLUGIN: { status: 500, exit: 9 },
  E_IO: { status: 500, exit: 10 },
  E_NO_SPACE: { status: 507, exit: 10 },
  E_TIMEOUT: { status: 504, exit: 11 },
  E_ADDRESS_IN_USE: { status: 500, exit: 12 },
  E_ADDRESS_UNAVAILABLE: { status: 500, exit: 12 },
  E_PERMISSION: { status: 500, exit: 13 },
  E_ABORTED: { status: 499, exit: 130 },
  E_INTERNAL: { status: 500, exit: 1 },
} as const satisfies Record<string, { status: number; exit: number }>

export type ErrorCode = keyof typeof ERROR_CODES

/** True for the codes of this build (`'toString'` is not one, though `in` would say so). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)
}

export interface DragonflyErrorOptions {
  cause?: unknown
  /** Extra machine-readable facts (upstream status, piece number, ...). */
  details?: Record<string, unknown>
  /** The request body was left unread (it may never end): the answer closes the connection. */
  closeConnection?: boolean
}

export class DragonflyError extends Error {
  readonly code: ErrorCode
  readonly details?: Record<string, unknown>
  readonly closeConnection?: boolean

  constructor(code: ErrorCode, message: string, options: DragonflyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'DragonflyError'
    this.code = code
    if (options.details) this.details = options.details
    if (options.closeConnection) this.closeConnection = true
  }

  get status(): number {
    return ERROR_CODES[this.code].status
  }

  get exitCode(): number {
    return ERROR_CODES[this.code].exit
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) }
  }
}

export function createError(code: ErrorCode, message: string, options?: DragonflyErrorOptions): DragonflyError {
  return new DragonflyError(code, message, options)
}

export function isDragonflyError(error: unknown): error is DragonflyError {
  return error instanceof DragonflyError
}

/** Wraps anything thrown into a DragonflyError without leaking a stack to users. */
export function toDragonflyError(error: unknown, fallback: ErrorCode = 'E_INTERNAL'): DragonflyError {
  if (error instanceof DragonflyError) return error
  if (error instanceof Error && error.name === 'AbortError') return createError('E_ABORTED', 'operation aborted', { cause: error })
  const message = error instanceof Error ? error.message : String(error)
  return createError(fallback, message, { cause: error })
}
