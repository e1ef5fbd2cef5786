import { ofetch } from 'ofetch'
import { toSupernodeError } from '../core/peer/supernode-client.ts'
import { serverUrl } from '../core/protocol/routes.ts'

/** Calls a supernode's API (SUPERNODE_ROUTES, READY_PATH …) for the admin commands; every failure becomes a coded error. */
export async function supernodeApi<T>(base: string, path: string, options: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
  try {
    return await ofetch<T>(serverUrl(base, path), {
      method: options.method ?? 'GET',
      ...(options.body === undefined ? {} : { body: options.body as Record<string, unknown> }),
      timeout: options.timeoutMs ?? 30_000,
      retry: 0,
    })
  } catch (error) {
    throw toSupernodeError(base, error)
  }
}
