import { FetchError, ofetch } from 'ofetch'
import type { PullBody, PullResponse, RegisterBody, RegisterResponse } from './api-schema.ts'
import { createError, DragonflyError, ERROR_CODES, type ErrorCode } from './errors.ts'

/** True when the supernode itself is gone (no answer, or not a Dragonfly answer), so another may be tried. */
/** The supernode cannot serve at all (unreachable, or shutting down): try the next one. */
export function isSupernodeDown(error: unknown): boolean {
  return error instanceof DragonflyError && (error.code === 'E_NO_SUPERNODE' || error.code === 'E_NOT_READY')
}

export interface SupernodeClientOptions {
  /** Extra headers on every API request (auth plugins). */
  headers?: (url: string) => Record<string, string>
  /** Registration waits for the source's response headers. @default 60000 */
  registerTimeoutMs?: number
  /** Must exceed the supernode's long-poll. @default 30000 */
  pullTimeoutMs?: number
}

/** The peer's side of /api/v1. Maps every failure to a DragonflyError. */
export function createSupernodeClient(options: SupernodeClientOptions = {}) {
  const call = async <T>(base: string, path: string, body: unknown, timeout: number): Promise<T> => {
    const url = `${base.replace(/\/+$/, '')}/api/v1${path}`
    try {
      return await ofetch<T>(url, { method: 'POST', body: body as Record<string, unknown>, timeout, retry: 0, headers: options.headers?.(url) })
    } catch (error) {
      throw toClientError(base, error)
    }
  }
  return {
    register: (base: string, body: RegisterBody) => call<RegisterResponse>(base, '/tasks/register', body, options.registerTimeoutMs ?? 60_000),
    pull: (base: string, taskId: string, body: Partial<PullBody> & { peerId: string }) =>
      call<PullResponse>(base, `/tasks/${taskId}/pull`, body, options.pullTimeoutMs ?? 30_000),
    reportBackToSource: (base: string, body: { url: string; bytes: number }) => call<{ ok: boolean }>(base, '/reports/back-to-source', body, 2_000),
    leave: (base: string, taskId: string, peerId: string) => call<{ ok: boolean }>(base, `/tasks/${taskId}/leave`, { peerId }, 5_000),
  }
}

export type SupernodeClient = ReturnType<typeof createSupernodeClient>

function toClientError(base: string, error: unknown): DragonflyError {
  if (error instanceof FetchError) {
    const coded = (error.data as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error
    if (coded?.code && coded.code in ERROR_CODES && error.statusCode !== undefined) {
      return createError(coded.code as ErrorCode, coded.message ?? 'supernode error', { details: coded.details })
    }
    const why = error.statusCode ? `answered ${error.statusCode}` : (error.cause as Error | undefined)?.message ?? error.message
    return createError('E_NO_SUPERNODE', `supernode ${base} ${why}`, { cause: error })
  }
  return createError('E_NO_SUPERNODE', `supernode ${base}: ${(error as Error)?.message ?? error}`, { cause: error })
}
