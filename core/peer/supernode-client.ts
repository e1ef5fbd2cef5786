import { createFetch, FetchError, ofetch } from 'ofetch'
import type { PullBody, PullResponse, RegisterBody, RegisterResponse } from '../protocol/api-schema.ts'
import { createError, DragonflyError, ERROR_CODES, type ErrorCode } from '../errors.ts'

/** True when the supernode cannot serve at all (no answer, not a Dragonfly answer, shutting down, cut off from its cluster): try the next one. */
export function isSupernodeDown(error: unknown): boolean {
  // E_NOT_READY: it is shutting down; E_CLUSTER: it answers, but cannot reach its cluster store. Another may serve.
  return error instanceof DragonflyError && (error.code === 'E_NO_SUPERNODE' || error.code === 'E_NOT_READY' || error.code === 'E_CLUSTER')
}

export interface SupernodeClientOptions {
  /** Extra headers on every API request (auth plugins). */
  headers?: (url: string) => Record<string, string>
  /** Registration waits for the source's response headers. @default 60000 */
  registerTimeoutMs?: number
  /** Must exceed the supernode's long-poll. @default 30000 */
  pullTimeoutMs?: number
  /** The transport under ofetch (a runtime's lighter one for these small JSON exchanges). @default globalThis.fetch */
  fetch?: typeof fetch
}

/** The peer's side of /api/v1. Maps every failure to a DragonflyError. */
export function createSupernodeClient(options: SupernodeClientOptions = {}) {
  const $fetch = options.fetch ? createFetch({ fetch: options.fetch }) : ofetch
  const call = async <T>(base: string, path: string, body: unknown, timeout: number): Promise<T> => {
    const url = `${base.replace(/\/+$/, '')}/api/v1${path}`
    try {
      return await $fetch<T>(url, { method: 'POST', body: body as Record<string, unknown>, timeout, retry: 0, headers: options.headers?.(url) })
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
    /** The cluster's config service: which supernodes a peer at `location` should use, best first. */
    supernodes: async (base: string, location?: string): Promise<unknown> => {
      const url = `${base.replace(/\/+$/, '')}/api/v1/supernodes`
      try {
        return await $fetch(url, { query: location ? { location } : {}, timeout: 3_000, retry: 0, headers: options.headers?.(url) })
      } catch (error) {
        throw toClientError(base, error)
      }
    },
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
