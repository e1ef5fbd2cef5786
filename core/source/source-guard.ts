import type { AddressCheck, GuardedFetchFactory } from '../contract/guarded-fetch.ts'
import { createError } from '../errors.ts'
import { type Cidr, embeddedIpv4, formatIp, type IpBytes, inCidr, parseCidr, parseIp } from './ip-address.ts'

/**
 * Which sources a supernode or daemon may connect to (an SSRF guard: peers
 * and local clients choose the URLs). A pattern is a host name with `*`
 * wildcards (`*.example.com`), an address or a CIDR range (`10.0.0.0/8`,
 * `fd00::/8`). Names are checked as written, addresses where the connection
 * goes: the addresses a name resolves to are checked again just before the
 * socket connects (see `GuardedFetchFactory`), so a name that resolves (or
 * re-resolves) into a denied range is refused too. Deny wins over allow; an
 * empty allow list allows everything not denied.
 */
export interface SourceGuardOptions {
  allow?: string[]
  deny?: string[]
  /**
   * Makes a `fetch` whose connections go only to addresses `check` accepts
   * (the runtime's; without one, only the URL's host as written is checked).
   */
  connect?: GuardedFetchFactory
}

/**
 * Never a source, whatever the lists say: the link-local ranges (cloud
 * instance metadata at 169.254.169.254, AWS's fd00:ec2::254 and Alibaba's
 * 100.100.100.200 answer there or beside them, and no public server does) and
 * the metadata names that resolve to them.
 */
export const DEFAULT_DENY = ['169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254', '100.100.100.200', 'metadata.google.internal', 'metadata.goog']

export interface SourceGuard {
  /** Checks a URL's host as written (a name, or an address in any of its spellings). */
  (url: string): void
  /** Checks an address the URL's host resolved to. */
  address: AddressCheck
  /** `fetch` that connects only to addresses this guard accepts (plain `fetch` when the runtime has none). */
  fetch: typeof fetch
}

interface Rules {
  names: ((host: string) => boolean)[]
  ranges: Cidr[]
}

export function createSourceGuard(options: SourceGuardOptions = {}): SourceGuard {
  const allow = toRules(options.allow ?? [])
  const deny = toRules([...DEFAULT_DENY, ...(options.deny ?? [])])
  const allowAll = (options.allow ?? []).length === 0

  /** `named`: the host is on the allow list by name, so only the deny ranges apply to where it resolves. */
  const checkAddress = (bytes: IpBytes, shown: string, named = false): void => {
    const forms = [bytes, ...embeddedIpv4(bytes)]
    const refused = forms.some((b) => deny.ranges.some((r) => inCidr(b, r)))
    if (refused || !(allowAll || named || forms.some((b) => allow.ranges.some((r) => inCidr(b, r))))) forbid(shown)
  }
  const guard = ((url: string) => {
    const host = hostOf(url)
    const bytes = parseIp(host)
    if (bytes) return checkAddress(bytes, host)
    if (deny.names.some((m) => m(host))) forbid(host)
    // A name the allow list does not name may still resolve into an allowed range: decided at connect time.
    if (!allowAll && allow.ranges.length === 0 && !allow.names.some((m) => m(host))) forbid(host)
  }) as SourceGuard
  guard.address = (address, host) => {
    const bytes = parseIp(address)
    if (!bytes) throw createError('E_FORBIDDEN', `${host} resolved to something that is not an address: ${JSON.stringify(address)}`)
    checkAddress(
      bytes,
      `${host} (${formatIp(bytes)})`,
      allow.names.some((m) => m(normalHost(host))),
    )
  }
  const connectFetch = options.connect ? options.connect(guard.address) : fetch
  guard.fetch = ((input: string | URL | Request, init?: RequestInit) => {
    guard(input instanceof Request ? input.url : String(input))
    return connectFetch(input, init)
  }) as typeof fetch
  return guard
}

function forbid(what: string): never {
  throw createError('E_FORBIDDEN', `this node does not fetch from ${what} (denySources / allowSources)`)
}

/** The URL's host, lower-case, without brackets' neighbours or trailing dots (`metadata.google.internal.` is that name). */
function hostOf(url: string): string {
  let host: string
  try {
    host = new URL(url).hostname
  } catch (cause) {
    throw createError('E_BAD_ARGUMENT', `not a valid URL: ${JSON.stringify(url)}`, { cause })
  }
  return normalHost(host)
}

function normalHost(host: string): string {
  return host.toLowerCase().replace(/\.+$/, '')
}

function toRules(patterns: string[]): Rules {
  const rules: Rules = { names: [], ranges: [] }
  for (const raw of patterns) {
    const p = normalHost(raw.trim())
    const range = parseCidr(p)
    if (range) rules.ranges.push(range)
    else rules.names.push(toMatcher(p))
  }
  return rules
}

function toMatcher(p: string): (host: string) => boolean {
  if (!p.includes('*')) return (host) => host === p
  const re = new RegExp(`^${p.split('*').map(escapeRegExp).join('[^.]*')}$`)
  return (host) => re.test(host)
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
