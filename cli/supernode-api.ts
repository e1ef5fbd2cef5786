import { ofetch } from 'ofetch'
import type { ResolvedDragonflyConfig } from '../config/index.ts'
import { createPluginSet, outgoingHeaders } from '../core/contract/plugin.ts'
import { toSupernodeError } from '../core/peer/supernode-client.ts'
import { serverUrl } from '../core/protocol/routes.ts'

/** Calls a supernode's API (SUPERNODE_ROUTES, READY_PATH …) for the admin commands; every failure becomes a coded error. */
export async function supernodeApi<T>(
  base: string,
  path: string,
  options: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number; headers?: (url: string) => Record<string, string> } = {},
): Promise<T> {
  const url = serverUrl(base, path)
  try {
    return await ofetch<T>(url, {
      method: options.method ?? 'GET',
      ...(options.body === undefined ? {} : { body: options.body as Record<string, unknown> }),
      timeout: options.timeoutMs ?? 30_000,
      retry: 0,
      headers: options.headers?.(url),
    })
  } catch (error) {
    throw toSupernodeError(base, error)
  }
}

/** The credentials the config's plugins send to a supernode (auth-header's token): admin commands send them too. */
export function pluginHeaders(config: ResolvedDragonflyConfig): (url: string) => Record<string, string> {
  const plugins = createPluginSet(config.plugins)
  return (url) => outgoingHeaders(plugins, url)
}
