import type { PluginSet, SourceRequest } from '../contract/plugin.ts'
import { type DragonflyError, isDragonflyError } from '../errors.ts'
import { sleep } from '../sleep.ts'
import { fetchSource, sourceStatusError } from './fetch-source.ts'
import type { SourceGuard } from './source-guard.ts'

export interface RetryPolicy {
  /** Attempts after the first. @default 3 */
  retries: number
  /** First backoff; doubles each time. @default 250 */
  backoffMs: number
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, backoffMs: 250 }

/**
 * A source request that rides out passing trouble: 5xx answers and failed
 * connections are retried with exponential backoff; any other answer
 * (200, 206, 304, 4xx) is returned for the caller to judge.
 */
export async function fetchSourceWithRetry(
  plugins: PluginSet,
  request: SourceRequest,
  policy: RetryPolicy = DEFAULT_RETRY,
  guard?: SourceGuard,
): Promise<Response> {
  let last: DragonflyError | Error | undefined
  for (let attempt = 0; attempt <= policy.retries; attempt++) {
    if (attempt > 0) await sleep(policy.backoffMs * 2 ** (attempt - 1), request.signal)
    try {
      const response = await fetchSource(plugins, request, guard)
      if (response.status < 500) return response
      await response.body?.cancel().catch(() => {})
      last = sourceStatusError(request.url, response.status)
    } catch (error) {
      if (!isRetryable(error)) throw error
      last = error as Error
    }
  }
  throw last!
}

/** Passing trouble on the way from the source: worth another try. */
export function isRetryable(error: unknown): boolean {
  if (!isDragonflyError(error)) return !(error instanceof Error && error.name === 'AbortError')
  return error.code === 'E_SOURCE_UNREACHABLE' || error.code === 'E_SOURCE_TRUNCATED'
}
