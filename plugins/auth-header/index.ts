import * as v from 'valibot'
import { definePlugin, type PluginHooks } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { sameText } from '../../core/contract/same-text.ts'
import { createError } from '../../core/errors.ts'

export const PLUGIN_NAME = 'auth-header'

export interface SourceCredentials {
  /** Source URLs this rule applies to: a RegExp, or a string prefix. */
  match: RegExp | string
  /** Headers added to matching source requests; the user's own `-H` headers win. */
  headers: Record<string, string>
}

export interface AuthHeaderOptions {
  /**
   * Shared cluster token: the supernode API and every piece server require
   * `Authorization: Bearer <token>`, and this node sends it on its own requests.
   * `/healthz` stays open.
   * @default undefined (no check)
   */
  token?: string
  /**
   * Credentials for sources, by URL pattern.
   * @default []
   */
  sources?: SourceCredentials[]
}

const OPTIONS = v.strictObject({
  token: v.optional(v.pipe(v.string(), v.regex(/^\S+$/, 'must be a non-empty string without spaces'))),
  sources: v.optional(
    v.array(
      v.strictObject({
        match: v.union([v.instance(RegExp), v.string()]),
        headers: v.record(v.string(), v.string()),
      } satisfies PluginOptionsEntries<SourceCredentials>),
    ),
    () => [],
  ),
} satisfies PluginOptionsEntries<AuthHeaderOptions>)

/** Header authentication, both ways: a cluster token for Dragonfly's own HTTP, and credentials for sources. */
export default definePlugin((options: AuthHeaderOptions = {}) => {
  const { token, sources } = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  const hooks: PluginHooks = {}
  if (token !== undefined) {
    const expected = `Bearer ${token}`
    hooks.outgoingHeaders = () => ({ authorization: expected })
    hooks.checkRequest = (request) => {
      const given = request.headers.get('authorization')
      if (given === null) throw createError('E_UNAUTHORIZED', 'this node requires Authorization: Bearer <token> (auth-header plugin)')
      if (!sameText(given, expected)) throw createError('E_UNAUTHORIZED', 'wrong bearer token')
    }
  }
  if (sources.length > 0) {
    hooks.sourceHeaders = (url, headers) => {
      const present = new Set(Object.keys(headers).map((k) => k.toLowerCase()))
      const extra: Record<string, string> = {}
      for (const rule of sources) {
        const hit = typeof rule.match === 'string' ? url.startsWith(rule.match) : rule.match.test(url)
        if (!hit) continue
        for (const [k, v] of Object.entries(rule.headers)) if (!present.has(k.toLowerCase())) extra[k] = v
      }
      return extra
    }
  }
  return { name: PLUGIN_NAME, hooks }
})
