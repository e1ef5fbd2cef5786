import * as v from 'valibot'
import { definePlugin, type SourceRequest } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { createError } from '../../core/errors.ts'

export const PLUGIN_NAME = 'source-http'

export interface SourceHttpOptions {
  /**
   * Time allowed until the response headers arrive; the body may take as long as it needs.
   * @default 30000
   */
  headersTimeoutMs?: number
  /**
   * Headers added to every source request (the user's own `-H` win).
   * @default {}
   */
  headers?: Record<string, string>
}

const OPTIONS = v.strictObject({
  headersTimeoutMs: v.optional(v.pipe(v.number(), v.minValue(1, 'must be at least 1 ms')), 30_000),
  headers: v.optional(v.record(v.string(), v.string()), () => ({})),
} satisfies PluginOptionsEntries<SourceHttpOptions>)

type ResolvedOptions = v.InferOutput<typeof OPTIONS>

/** http(s) sources over `fetch`: the user's headers, Range, conditional requests. Redirects come back as they are: core follows them, checking each hop. */
export default definePlugin((options: SourceHttpOptions = {}) => {
  const checked = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  return {
    name: PLUGIN_NAME,
    source: {
      protocols: ['http:', 'https:'],
      fetch: (request) => fetchHttp(request, checked),
    },
  }
})

async function fetchHttp(request: SourceRequest, options: ResolvedOptions): Promise<Response> {
  const headers = new Headers({ ...options.headers, ...request.headers })
  const { range, validators } = request
  if (range) headers.set('range', `bytes=${range.start}-${range.end ?? ''}`)
  if (range && validators) {
    // Resume only if the copy we hold is still current; otherwise the server sends it whole.
    const v = validators.etag ?? validators.lastModified
    if (v) headers.set('if-range', v)
  } else if (validators) {
    if (validators.etag) headers.set('if-none-match', validators.etag)
    if (validators.lastModified) headers.set('if-modified-since', validators.lastModified)
  }
  const timeout = new AbortController()
  const timer = setTimeout(() => timeout.abort(), options.headersTimeoutMs)
  const signal = request.signal ? AbortSignal.any([request.signal, timeout.signal]) : timeout.signal
  try {
    return await fetch(request.url, { method: request.method ?? 'GET', headers, signal, redirect: 'manual' })
  } catch (error) {
    const why = timeout.signal.aborted ? 'no response headers in time' : (((error as Error).cause as Error)?.message ?? (error as Error).message)
    throw createError('E_SOURCE_UNREACHABLE', `cannot fetch ${request.url}: ${why}`, { cause: error })
  } finally {
    clearTimeout(timer)
  }
}
