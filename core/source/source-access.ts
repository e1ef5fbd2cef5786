import { LRUCache } from 'lru-cache'
import type { PluginSet } from '../contract/plugin.ts'
import { createError } from '../errors.ts'
import { fetchSource } from './fetch-source.ts'
import type { SourceGuard } from './source-guard.ts'

/** Request headers that carry a user's credentials toward a source. */
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']

/** Whether a request carries credentials toward its source (its content may then be private). */
export function hasCredentials(headers: Record<string, string> = {}): boolean {
  return Object.keys(headers).some((k) => CREDENTIAL_HEADERS.includes(k.toLowerCase()))
}

/** The credential headers among `headers`, names lower-cased: what a caller proves its access to a source with. */
export function credentialHeaders(headers: Headers | Record<string, string> = {}): Record<string, string> {
  const entries = headers instanceof Headers ? [...headers] : Object.entries(headers)
  return Object.fromEntries(entries.map(([k, v]) => [k.toLowerCase(), v] as const).filter(([k]) => CREDENTIAL_HEADERS.includes(k)))
}

/** sha256 of the credential headers (names lower-cased, sorted), or '' when there are none. */
export async function credentialHash(headers: Record<string, string> = {}): Promise<string> {
  const found = Object.entries(credentialHeaders(headers)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  if (found.length === 0) return ''
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(found)))
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

export interface AccessTask {
  taskId: string
  /** Credential the source was fetched with: '' public, '*' private but nobody's credential was checked yet. */
  credential: string
}

export interface SourceAccessOptions {
  /** How long a source's yes (or no) to a credential is trusted. @default 300000 */
  ttlMs?: number
  /** Answers kept (per task and credential); the least recently used goes first. @default 10000 */
  maxVerdicts?: number
  /** The SSRF guard the checks connect through. */
  guard?: SourceGuard
}

/**
 * Private content: a task fetched with credentials is handed only to
 * registrants whose own credentials the source accepts. Each distinct
 * credential is checked once per TTL with a HEAD request; concurrent checks
 * of the same credential share one request. The answers are bounded in number:
 * registrants choose the credentials, so they must not choose the memory used.
 */
export class SourceAccess {
  private readonly verdicts: LRUCache<string, { ok: boolean }, { url: string; headers: Record<string, string> }>
  private readonly guard: SourceGuard | undefined

  constructor(
    private readonly plugins: PluginSet,
    options: SourceAccessOptions = {},
  ) {
    this.guard = options.guard
    // lru-cache's fetch() shares one check among concurrent callers of a key and keeps its answer for the TTL.
    this.verdicts = new LRUCache({
      max: options.maxVerdicts ?? 10_000,
      ttl: options.ttlMs ?? 300_000,
      fetchMethod: async (_key, _stale, { context }) => ({ ok: await this.ask(context.url, context.headers) }),
    })
  }

  /** Resolves when this registrant may have the task's pieces; throws E_FORBIDDEN otherwise. */
  async admit(task: AccessTask, request: { url: string; headers?: Record<string, string> }): Promise<void> {
    if (task.credential === '') return
    const credential = await credentialHash(request.headers)
    if (credential === task.credential) return
    const verdict = await this.verdicts.fetch(`${task.taskId}/${credential}`, { context: { url: request.url, headers: request.headers ?? {} } })
    if (!verdict?.ok)
      throw createError(
        'E_FORBIDDEN',
        `the source refused this registrant's credentials for ${request.url}; private content is only shared with peers that may fetch it themselves`,
      )
  }

  private async ask(url: string, headers: Record<string, string>): Promise<boolean> {
    let response = await fetchSource(this.plugins, { url, headers, method: 'HEAD' }, this.guard)
    if (response.status === 405 || response.status === 501) {
      await response.body?.cancel().catch(() => {})
      response = await fetchSource(this.plugins, { url, headers, range: { start: 0, end: 0 } }, this.guard)
    }
    await response.body?.cancel().catch(() => {})
    if (response.status === 401 || response.status === 403 || response.status === 404) return false
    if (response.status >= 400)
      throw createError('E_SOURCE_STATUS', `source answered ${response.status} while checking credentials for ${url}`, { details: { status: response.status } })
    return true
  }
}
