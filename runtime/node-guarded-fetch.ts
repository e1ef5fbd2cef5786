import { type LookupAddress, type LookupOptions, lookup } from 'node:dns'
import type { AddressCheck, GuardedFetchFactory } from '../core/contract/guarded-fetch.ts'

type LookupCallback = (error: Error | null, address: string | LookupAddress[], family?: number) => void

/**
 * `fetch` over an undici Agent whose sockets resolve the host with a lookup
 * that checks every address before `net.connect` uses one: the address
 * checked is the address connected to, so a name that re-resolves elsewhere
 * between a check and the connect (DNS rebinding) gains nothing. undici,
 * not a hand-made client over node:http: the same fetch semantics (streams,
 * abort, manual redirects) as the global one, from the package Node's own
 * fetch is built from; loaded only where a guard is used.
 */
export const nodeGuardedFetch: GuardedFetchFactory = (check) => {
  const ready = import('undici').then(({ Agent, fetch }) => ({ fetch, dispatcher: new Agent({ connect: { lookup: checkedLookup(check) } }) }))
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const { fetch, dispatcher } = await ready
    return fetch(input as Parameters<typeof fetch>[0], { ...(init as Parameters<typeof fetch>[1]), dispatcher })
  }) as unknown as typeof fetch
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
