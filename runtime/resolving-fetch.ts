import { lookup } from 'node:dns/promises'
import type { GuardedFetchFactory } from '../core/contract/guarded-fetch.ts'

/**
 * Bun's and Deno's `fetch` take no resolver, so this checks what the name
 * resolves to right before the request and lets the runtime resolve it again
 * to connect: a name whose DNS answer flips inside that window (rebinding) is
 * not caught here, only on Node (node-guarded-fetch.ts). docs/security.md says so.
 */
export const resolvingFetch: GuardedFetchFactory = (check) =>
  (async (input: string | URL | Request, init?: RequestInit) => {
    const host = new URL(input instanceof Request ? input.url : String(input)).hostname.replace(/^\[|\]$/g, '')
    for (const { address } of await lookup(host, { all: true })) check(address, host)
    return fetch(input, init)
  }) as typeof fetch
