import { createError } from '../errors.ts'

/**
 * Which source hosts a supernode will fetch from (an SSRF guard: peers choose
 * the URLs). Patterns are host names with `*` wildcards (`*.example.com`) or
 * literal IPs. Deny wins over allow; an empty allow list allows every host.
 * Names are matched as written: a DNS name that resolves to a denied address
 * is not caught here, so deployments that need that deny by network policy too.
 */
export interface SourceGuardOptions {
  allow?: string[]
  deny?: string[]
}

/** Cloud instance-metadata endpoints: never a legitimate source, a classic SSRF target. */
export const DEFAULT_DENY = ['169.254.169.254', '[fd00:ec2::254]', 'metadata.google.internal', '100.100.100.200']

export type SourceGuard = (url: string) => void

export function createSourceGuard(options: SourceGuardOptions = {}): SourceGuard {
  const allow = (options.allow ?? []).map(toMatcher)
  const deny = [...DEFAULT_DENY, ...(options.deny ?? [])].map(toMatcher)
  return (url) => {
    let host: string
    try {
      host = new URL(url).hostname.toLowerCase()
    } catch (cause) {
      throw createError('E_BAD_ARGUMENT', `not a valid URL: ${JSON.stringify(url)}`, { cause })
    }
    if (isLinkLocal(host) || deny.some((m) => m(host)) || (allow.length > 0 && !allow.some((m) => m(host)))) {
      throw createError('E_FORBIDDEN', `this supernode does not fetch from ${host}`)
    }
  }
}

/**
 * 169.254.0.0/16 and fe80::/10, however written: metadata services live
 * there, and no public source does. (`new URL` already turns decimal and hex
 * IPv4 forms into dotted quads.)
 */
function isLinkLocal(host: string): boolean {
  if (/^169\.254\.\d+\.\d+$/.test(host)) return true
  const v6 = host.startsWith('[') ? host.slice(1, -1) : ''
  if (!v6) return false
  if (/^fe[89ab][0-9a-f]?:/.test(v6)) return true
  // IPv4-mapped (::ffff:a9fe:xxxx) and the deprecated IPv4-compatible form (::a9fe:xxxx).
  return /^(?:0*:)*(?:ffff:)?a9fe:[0-9a-f]{1,4}$/.test(v6.replace(/^::/, '0:'))
}

function toMatcher(pattern: string): (host: string) => boolean {
  const p = pattern.trim().toLowerCase()
  if (!p.includes('*')) return (host) => host === p
  const re = new RegExp(`^${p.split('*').map(escapeRegExp).join('[^.]*')}$`)
  return (host) => re.test(host)
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
