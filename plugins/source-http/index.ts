import * as v from 'valibot'
import { definePlugin, type SourceRequest } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { createError, isDragonflyError } from '../../core/errors.ts'

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
  // One signal for the headers timeout and the caller's abort. Not AbortSignal.any: the caller's signal lives as long
  // as the supernode or daemon, and on Node 20 each composite made from it stays in its list for good.
  const controller = new AbortController()
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    controller.abort(new DOMException('no response headers in time', 'TimeoutError'))
  }, options.headersTimeoutMs)
  const caller = request.signal
  const follow = (): void => controller.abort(caller?.reason)
  const unfollow = (): void => caller?.removeEventListener('abort', follow)
  if (caller?.aborted) follow()
  else caller?.addEventListener('abort', follow, { once: true })
  let response: Response
  try {
    const connect = request.fetch ?? fetch
    response = await connect(request.url, { method: request.method ?? 'GET', headers, signal: controller.signal, redirect: 'manual' })
  } catch (error) {
    unfollow()
    // The SSRF guard's refusal, raised while connecting, keeps its own code.
    const refusal = [error, (error as Error)?.cause].find(isDragonflyError)
    if (refusal) throw refusal
    const why = timedOut ? 'no response headers in time' : (((error as Error).cause as Error)?.message ?? (error as Error).message)
    throw createError('E_SOURCE_UNREACHABLE', `cannot fetch ${request.url}: ${why}`, { cause: error })
  } finally {
    clearTimeout(timer)
  }
  if (!caller || !response.body) {
    unfollow()
    return response
  }
  // The caller's abort still stops the body: it is followed until the body ends or is cancelled.
  return new Response(untilDone(response.body, unfollow), { status: response.status, statusText: response.statusText, headers: response.headers })
}

/** `body` as it is, calling `done` once when it ends, fails or is cancelled. */
function untilDone(body: ReadableStream<Uint8Array>, done: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await reader.read()
          if (next.done) {
            done()
            controller.close()
          } else controller.enqueue(next.value)
        } catch (error) {
          done()
          controller.error(error)
        }
      },
      cancel(reason) {
        done()
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}
