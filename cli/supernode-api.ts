import { FetchError, ofetch } from 'ofetch'
import { createError, type DragonflyError, ERROR_CODES, type ErrorCode } from '../core/errors.ts'

/** Calls a supernode's `/api/v1` (or `/readyz` …) for the admin commands; every failure becomes a coded error. */
export async function supernodeApi<T>(base: string, path: string, options: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
  const url = `${base.replace(/\/+$/, '')}${path}`
  try {
    return await ofetch<T>(url, {
      method: options.method ?? 'GET',
      ...(options.body === undefined ? {} : { body: options.body as Record<string, unknown> }),
      timeout: options.timeoutMs ?? 30_000,
      retry: 0,
    })
  } catch (error) {
    throw toCodedError(base, error)
  }
}

function toCodedError(base: string, error: unknown): DragonflyError {
  if (error instanceof FetchError) {
    const coded = (error.data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error
    if (coded?.code && coded.code in ERROR_CODES) return createError(coded.code as ErrorCode, coded.message ?? 'supernode error', { details: coded.details })
    const why = error.statusCode ? `answered ${error.statusCode}` : ((error.cause as Error | undefined)?.message ?? error.message)
    return createError('E_NO_SUPERNODE', `supernode ${base} ${why}`, { cause: error })
  }
  return createError('E_NO_SUPERNODE', `supernode ${base}: ${(error as Error)?.message ?? error}`, { cause: error })
}
