import { createFetch, FetchError, ofetch } from 'ofetch'
import { createError, DragonflyError } from '../errors.ts'
import type { BackToSourceReport, PullBody, PullResponse, RegisterBody, RegisterResponse, SyncBody, SyncResponse } from '../protocol/api-schema.ts'
import { decodeErrorBody } from '../protocol/error-body.ts'
import { peerSecretHeader } from '../protocol/peer-secret.ts'
import { routePath, SUPERNODE_ROUTES, serverUrl } from '../protocol/routes.ts'

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

/**
 * The peer's side of the supernode's peer API. Maps every failure to a
 * DragonflyError. Calls that speak for a registered peer take the secret its
 * registration was answered with (`peerSecret`): peer ids alone are public.
 */
export function createSupernodeClient(options: SupernodeClientOptions = {}) {
  const $fetch = options.fetch ? createFetch({ fetch: options.fetch }) : ofetch
  const call = async <T>(base: string, path: string, body: unknown, timeout: number, secret?: string): Promise<T> => {
    const url = serverUrl(base, path)
    try {
      const headers = { ...options.headers?.(url), ...peerSecretHeader(secret) }
      return await $fetch<T>(url, { method: 'POST', body: body as Record<string, unknown>, timeout, retry: 0, headers })
    } catch (error) {
      throw toSupernodeError(base, error)
    }
  }
  return {
    register: (base: string, body: RegisterBody) => call<RegisterResponse>(base, SUPERNODE_ROUTES.register, body, options.registerTimeoutMs ?? 60_000),
    pull: (base: string, taskId: string, body: Partial<PullBody> & { peerId: string }, secret?: string) =>
      call<PullResponse>(base, routePath(SUPERNODE_ROUTES.pull, { taskId }), body, options.pullTimeoutMs ?? 30_000, secret),
    sync: (base: string, taskId: string, body: Partial<SyncBody> & { peerId: string }, secret?: string) =>
      call<SyncResponse>(base, routePath(SUPERNODE_ROUTES.sync, { taskId }), body, options.pullTimeoutMs ?? 30_000, secret),
    reportBackToSource: (base: string, body: BackToSourceReport, secret?: string) =>
      call<{ ok: boolean }>(base, SUPERNODE_ROUTES.backToSource, body, 2_000, secret),
    leave: (base: string, taskId: string, peerId: string, secret?: string) =>
      call<{ ok: boolean }>(base, routePath(SUPERNODE_ROUTES.leave, { taskId }), { peerId }, 5_000, secret),
    /** The cluster's config service: which supernodes a peer at `location` should use, best first. */
    supernodes: async (base: string, location?: string): Promise<unknown> => {
      const url = serverUrl(base, SUPERNODE_ROUTES.supernodes)
      try {
        return await $fetch(url, { query: location ? { location } : {}, timeout: 3_000, retry: 0, headers: options.headers?.(url) })
      } catch (error) {
        throw toSupernodeError(base, error)
      }
    },
  }
}

export type SupernodeClient = ReturnType<typeof createSupernodeClient>

/**
 * A failed ofetch call to the supernode at `base` as a coded error: the one
 * its answer carries, else E_NO_SUPERNODE (not a Dragonfly answer, or no
 * answer at all: another supernode may serve).
 */
export function toSupernodeError(base: string, error: unknown): DragonflyError {
  const from = `supernode ${base}`
  if (error instanceof FetchError) {
    if (error.statusCode !== undefined) return decodeErrorBody(error.statusCode, error.data, { from, fallback: 'E_NO_SUPERNODE' })
    return createError('E_NO_SUPERNODE', `${from} ${(error.cause as Error | undefined)?.message ?? error.message}`, { cause: error })
  }
  return createError('E_NO_SUPERNODE', `${from}: ${(error as Error)?.message ?? error}`, { cause: error })
}
