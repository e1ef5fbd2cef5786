import { createError, isDragonflyError } from './errors.ts'
import type { PluginSet, SourceRequest } from './plugin.ts'

/** Picks the source adapter by protocol and applies the plugins' source header hooks. */
export async function fetchSource(plugins: PluginSet, request: SourceRequest): Promise<Response> {
  let protocol: string
  try {
    protocol = new URL(request.url).protocol
  } catch (cause) {
    throw createError('E_BAD_ARGUMENT', `not a valid URL: ${JSON.stringify(request.url)}`, { cause })
  }
  const adapter = plugins.sources.get(protocol)
  if (!adapter) {
    const known = [...plugins.sources.keys()].join(', ') || 'none'
    throw createError('E_UNSUPPORTED_SCHEME', `no source plugin handles ${protocol} URLs (handled: ${known})`)
  }
  let headers = { ...request.headers }
  for (const hook of plugins.hooks) {
    const extra = hook.sourceHeaders?.(request.url, headers)
    if (extra) headers = { ...headers, ...extra }
  }
  try {
    return await adapter.fetch({ ...request, headers })
  } catch (error) {
    if (isDragonflyError(error)) throw error
    throw createError('E_SOURCE_UNREACHABLE', `cannot reach ${request.url}: ${(error as Error)?.message ?? error}`, { cause: error })
  }
}

/** Turns a non-success source status into an error with a code. */
export function sourceStatusError(url: string, status: number): Error {
  return createError('E_SOURCE_STATUS', `source answered ${status} for ${url}`, { details: { status } })
}
