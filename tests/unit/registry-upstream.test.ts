import { describe, expect, it } from 'vitest'
import { resolveRange } from '../../core/daemon/content-stream.ts'
import { resolveUpstream } from '../../core/daemon/registry-upstream.ts'

const D = `sha256:${'a'.repeat(64)}`

describe('which upstream a /v2 request goes to', () => {
  it.each([
    [
      'containerd ns= wins',
      `/v2/library/nginx/blobs/${D}?ns=docker.io`,
      { mirror: 'https://m.example' },
      `https://registry-1.docker.io/v2/library/nginx/blobs/${D}`,
    ],
    [
      'leading registry segment (registries.conf mirror form)',
      `/v2/registry.example:5000/library/foo/blobs/${D}`,
      {},
      `https://registry.example:5000/v2/library/foo/blobs/${D}`,
    ],
    ['loopback registries speak http', '/v2/127.0.0.1:5000/a/b/manifests/v1', {}, 'http://127.0.0.1:5000/v2/a/b/manifests/v1'],
    ['listed insecure registry', '/v2/reg.lan/a/manifests/v1', { insecureRegistries: ['reg.lan'] }, 'http://reg.lan/v2/a/manifests/v1'],
    [
      '--registry-mirror for plain names',
      '/v2/library/nginx/tags/list?n=5',
      { mirror: 'https://m.example/' },
      'https://m.example/v2/library/nginx/tags/list?n=5',
    ],
    [
      'a plain first segment is a repository, not a host',
      '/v2/team/app/manifests/v1',
      { mirror: 'https://m.example' },
      'https://m.example/v2/team/app/manifests/v1',
    ],
  ])('%s', (_name, path, options, expected) => {
    expect(resolveUpstream(new URL(`http://127.0.0.1:65001${path}`), options)?.url).toBe(expected)
  })

  it('no upstream without a mirror, ns or registry segment', () => {
    expect(resolveUpstream(new URL('http://127.0.0.1:65001/v2/library/nginx/manifests/latest'), {})).toBeNull()
  })
})

describe('Range', () => {
  it.each([
    ['bytes=0-9', { start: 0, end: 10 }],
    ['bytes=90-', { start: 90, end: 100 }],
    ['bytes=-10', { start: 90, end: 100 }],
    ['bytes=50-1000', { start: 50, end: 100 }],
    ['bytes=100-', 'unsatisfiable'],
    ['bytes=9-3', 'unsatisfiable'],
    ['bytes=0-1,5-6', null],
    ['items=0-1', null],
  ] as const)('%s', (header, expected) => {
    expect(resolveRange(header, 100)).toEqual(expected)
  })
})
