import { type LookupAddress, type LookupOptions, lookup } from 'node:dns'
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions, request as httpRequest } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { Readable } from 'node:stream'
import type { AddressCheck, GuardedFetchFactory } from '../core/contract/guarded-fetch.ts'

type LookupCallback = (error: Error | null, address: string | LookupAddress[], family?: number) => void

/**
 * `fetch` over node:http whose agents resolve each host with a lookup that
 * checks every address before `net.connect` uses one: the address checked is
 * the address connected to, so a name that re-resolves elsewhere between a
 * check and the connect (DNS rebinding) gains nothing. Not undici's Agent:
 * undici 6 and 7 (the versions that run on Node 20) crash the process with an
 * uncatchable `assert(!this.paused)` when a source closes its connection while
 * a body is held back by backpressure (nodejs/undici#5360, fixed only in
 * undici 8, Node >= 22); a Python http.server source with a wrong --digest
 * killed the supernode here. Redirects are not followed (core follows them,
 * each hop through the guard) and bodies are not decompressed (no
 * Accept-Encoding is sent unless the caller sets one).
 */
export const nodeGuardedFetch: GuardedFetchFactory = (check) => {
  const lookup = checkedLookup(check) as unknown as HttpAgentOptions['lookup']
  const agents = { http: new HttpAgent({ keepAlive: true, lookup }), https: new HttpsAgent({ keepAlive: true, lookup }) }
  return ((input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const secure = url.startsWith('https:')
    if (!secure && !url.startsWith('http:')) return Promise.reject(new TypeError(`guarded fetch: unsupported URL ${url}`))
    const body = init?.body
    if (!(body == null || typeof body === 'string' || body instanceof Uint8Array)) return Promise.reject(new TypeError('guarded fetch: unsupported body'))
    const method = init?.method ?? 'GET'
    return new Promise<Response>((resolve, reject) => {
      const signal = init?.signal ?? undefined
      const fail = (error: unknown): void => reject(signal?.aborted ? signal.reason : error)
      const request = (secure ? httpsRequest : httpRequest)(
        url,
        { method, headers: headerRecord(init?.headers), agent: secure ? agents.https : agents.http, signal },
        (res) => {
          const headers = new Headers()
          for (const [name, value] of Object.entries(res.headers)) {
            if (Array.isArray(value)) for (const v of value) headers.append(name, v)
            else if (value !== undefined) headers.set(name, value)
          }
          const status = res.statusCode ?? 502
          const empty = method === 'HEAD' || status === 204 || status === 304
          if (empty) res.resume()
          try {
            resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage, headers }))
          } catch (error) {
            res.destroy()
            fail(error)
          }
        },
      )
      request.on('error', fail)
      request.end(body ?? undefined)
    })
  }) as unknown as typeof fetch
}

function headerRecord(headers: HeadersInit | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  if (headers)
    new Headers(headers).forEach((value, name) => {
      out[name] = value
    })
  return out
}

/** A `lookup` for `net.connect` that hands on only addresses `check` accepted (it refuses them all if one is refused). */
export function checkedLookup(check: AddressCheck) {
  return (hostname: string, options: LookupOptions | number, callback: LookupCallback): void => {
    const opts: LookupOptions = typeof options === 'number' ? { family: options } : options
    lookup(hostname, { ...opts, all: true }, (error, addresses) => {
      if (error) return callback(error, [])
      try {
        for (const a of addresses) check(a.address, hostname)
      } catch (refusal) {
        return callback(refusal as Error, [])
      }
      const first = addresses[0]
      if (opts.all) callback(null, addresses)
      else if (first) callback(null, first.address, first.family)
      else callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), [])
    })
  }
}
