import { describe, expect, it } from 'vitest'
import authHeader from '../../plugins/auth-header/index.ts'
import { testHooks } from '../../testing/index.ts'
import { optionError } from '../helpers/option-error.ts'

const TOKEN = 'cluster-token-for-tests'
const API = 'http://127.0.0.1:65001/api/v1/tasks'
const REGISTRY = 'https://registry.example.com/v2/library/alpine/blobs/sha256:00'

describe('auth-header', () => {
  it('passes testHooks: bearer token both ways, source credentials by URL pattern', async () => {
    const plugin = authHeader({
      token: TOKEN,
      sources: [
        { match: /registry\.example\.com/, headers: { authorization: 'Basic cmVnOnB3' } },
        { match: 'https://cdn.example.com/', headers: { 'x-cdn-key': 'k1' } },
      ],
    })
    await testHooks(plugin, {
      source: { url: REGISTRY, adds: { authorization: 'Basic cmVnOnB3' }, unmatchedUrl: 'https://other.example.com/f' },
      outgoing: { url: API, adds: { authorization: `Bearer ${TOKEN}` } },
      refuses: [
        () => new Request(API),
        () => new Request(API, { headers: { authorization: `Bearer ${TOKEN}x` } }),
        () => new Request(API, { headers: { authorization: TOKEN } }),
      ],
      accepts: [() => new Request('http://127.0.0.1:65002/pieces/ab/0', { headers: { authorization: `Bearer ${TOKEN}` } })],
    })
    await testHooks(plugin, { source: { url: 'https://cdn.example.com/a/b', adds: { 'x-cdn-key': 'k1' }, unmatchedUrl: 'https://cdn.example.com.evil/a' } })
  })

  it("refuses with E_UNAUTHORIZED (401), and lets the user's own source headers win", async () => {
    const { hooks } = authHeader({ token: TOKEN, sources: [{ match: /example/, headers: { Authorization: 'Basic x', 'x-extra': '1' } }] })
    expect(() => hooks.checkRequest!(new Request(API))).toThrow(expect.objectContaining({ code: 'E_UNAUTHORIZED', status: 401 }))
    expect(hooks.sourceHeaders!(REGISTRY, { authorization: 'Bearer mine' })).toEqual({ 'x-extra': '1' })
  })

  it('without a token it checks nothing and sends nothing', () => {
    const { hooks } = authHeader()
    expect(hooks).toEqual({})
  })

  it('refuses misspelt and malformed options, never echoing the token', () => {
    expect(optionError(() => authHeader({ tokn: TOKEN } as never))).toMatch(/^auth-header: unknown option `tokn` \(did you mean `token`\?\)/)
    expect(optionError(() => authHeader({ source: [] } as never))).toMatch(/unknown option `source` \(did you mean `sources`\?\)/)
    const spaced = optionError(() => authHeader({ token: 'two words' }))
    expect(spaced).toBe('auth-header: option `token` must be a non-empty string without spaces')
    expect(optionError(() => authHeader({ token: '' }))).toBe(spaced)
    expect(optionError(() => authHeader({ sources: [{ match: /x/, header: {} }] } as never))).toMatch(
      /unknown option `sources\[0\]\.header` \(did you mean `headers`\?\)/,
    )
    expect(optionError(() => authHeader({ sources: [{ match: 3, headers: {} }] } as never))).toMatch(
      /option `sources\[0\]\.match` must be one of a RegExp, a string, got 3/,
    )
  })
})
