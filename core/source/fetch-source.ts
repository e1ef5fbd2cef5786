import type { PluginSet, SourceRequest } from '../contract/plugin.ts'
import { createError, isDragonflyError } from '../errors.ts'
import type { SourceGuard } from './source-guard.ts'

/** Redirects followed before a source is given up on (browsers and curl use 20 and 50). */
const MAX_REDIRECTS = 10
const REDIRECTS = new Set([301, 302, 303, 307, 308])
/** Credentials meant for the URL the user named; not handed to another origin a redirect points at. */
const ORIGIN_BOUND_HEADERS = ['authorization', 'cookie', 'proxy-authorization']

/**
 * Fetches from the source, following redirects here rather than in the
 * adapter so every hop passes `guard` (the SSRF guard: an allowed host must
 * not bounce it to a metadata endpoint; the adapter connects with `guard.fetch`,
 * which checks the addresses it resolves) and credentials stay with
 * the origin they were given for.
 */
export async function fetchSource(plugins: PluginSet, request: SourceRequest, guard?: SourceGuard): Promise<Response> {
  guard?.(request.url)
  let current: SourceRequest = guard ? { ...request, fetch: guard.fetch } : request
  for (let hop = 0; ; hop++) {
    const response = await fetchOnce(plugins, current)
    const location = REDIRECTS.has(response.status) ? response.headers.get('location') : null
    if (location === null) return response
    await response.body?.cancel().catch(() => {})
    if (hop >= MAX_REDIRECTS) throw createError('E_SOURCE_STATUS', `more than ${MAX_REDIRECTS} redirects from ${request.url}`)
    let next: URL
    try {
      next = new URL(location, current.url)
    } catch (cause) {
      throw createError('E_SOURCE_STATUS', `${current.url} redirected to an invalid URL ${JSON.stringify(location.slice(0, 200))}`, { cause })
    }
    guard?.(next.href)
    const headers = { ...current.headers }
    if (next.origin !== new URL(current.url).origin)
      for (const name of Object.keys(headers)) if (ORIGIN_BOUND_HEADERS.includes(name.toLowerCase())) delete headers[name]
    current = { ...current, url: next.href, headers, ...(response.status === 303 ? { method: 'GET' as const } : {}) }
  }
}

/** Picks the source adapter by protocol and applies the plugins' source header hooks. */
async function fetchOnce(plugins: PluginSet, request: SourceRequest): Promise<Response> {
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
