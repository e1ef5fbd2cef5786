/** Checks an address a host name resolved to, before a socket connects to it; throws E_FORBIDDEN to refuse. */
export type AddressCheck = (address: string, host: string) => void

/**
 * The connect side of the SSRF guard, a runtime capability: a `fetch` that
 * resolves each host itself, passes every address to `check`, and connects
 * only to an address that passed.
 */
export type GuardedFetchFactory = (check: AddressCheck) => typeof fetch
