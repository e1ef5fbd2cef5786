import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { parseBearerChallenge, parseImageRef, resolveImage } from '../../core/supernode/registry-client.ts'

const D = (c: string) => `sha256:${c.repeat(64)}`

describe('image references', () => {
  it.each([
    ['127.0.0.1:5000/team/app:v1', { registry: 'http://127.0.0.1:5000', name: 'team/app', reference: 'v1' }],
    ['registry.example.com/app', { registry: 'https://registry.example.com', name: 'app', reference: 'latest' }],
    ['http://reg.internal:80/a/b/c@' + D('a'), { registry: 'http://reg.internal:80', name: 'a/b/c', reference: D('a') }],
    ['localhost:5000/app:1.2.3-rc_1', { registry: 'http://localhost:5000', name: 'app', reference: '1.2.3-rc_1' }],
  ])('%s', (input, expected) => expect(parseImageRef(input)).toEqual(expected))

  it.each(['app:v1', 'reg.example.com/', 'reg.example.com/App:v1', 'reg.example.com/app:v 1', 'ftp://reg/app'])('refuses %s', (input) => {
    expect(() => parseImageRef(input)).toThrow(expect.objectContaining({ code: 'E_BAD_ARGUMENT' }))
  })

  it('parses a Bearer challenge, quoted and escaped', () => {
    expect(parseBearerChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"')).toEqual({
      realm: 'https://auth.example/token',
      service: 'registry.example',
      scope: 'repository:a/b:pull',
    })
    expect(parseBearerChallenge('Basic realm="x"')).toBeNull()
    expect(parseBearerChallenge('Bearer service="no realm"')).toBeNull()
  })
})

describe('resolveImage against a registry that wants a bearer token', () => {
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json',
    manifests: [
      { digest: D('1'), platform: { os: 'linux', architecture: 'amd64' } },
      { digest: D('2'), platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    ],
  }
  const manifest = (layer: string) => ({
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { digest: D('c'), size: 10 },
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', digest: D(layer), size: 42 }],
  })
  const tokenRequests: string[] = []
  const app = new Hono()
    .get('/token', (c) => {
      tokenRequests.push(c.req.url)
      if (c.req.header('authorization') !== 'Basic dTpw') return c.text('no', 401)
      return c.json({ token: 'tok-1' })
    })
    .get('/v2/lib/app/manifests/:ref', (c) => {
      if (c.req.header('authorization') !== 'Bearer tok-1') {
        return c.json({ errors: [] }, 401, { 'www-authenticate': 'Bearer realm="http://reg.test/token",service="reg.test",scope="repository:lib/app:pull"' })
      }
      const ref = c.req.param('ref')
      if (ref === 'v1') return c.json(index, 200, { 'content-type': index.mediaType })
      if (ref === D('1')) return c.json(manifest('a'), 200, { 'docker-content-digest': D('1') })
      if (ref === D('2')) return c.json(manifest('b'), 200, { 'docker-content-digest': D('2') })
      return c.json({ errors: [] }, 404)
    })
  const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) =>
    app.request(String(input instanceof Request ? input.url : input), init)) as typeof fetch

  it('fetches a token with the credentials, follows the index to the platform, and hands the token on', async () => {
    const image = await resolveImage(parseImageRef('http://reg.test/lib/app:v1'), { platform: 'linux/arm/v7', authorization: 'Basic dTpw', fetch: fakeFetch })
    expect(image).toEqual({
      ref: { registry: 'http://reg.test', name: 'lib/app', reference: 'v1' },
      manifestDigest: D('2'),
      layers: [{ digest: D('b'), size: 42, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', url: `http://reg.test/v2/lib/app/blobs/${D('b')}` }],
      authorization: 'Bearer tok-1',
    })
    expect(new URL(tokenRequests[0]!).searchParams.get('scope')).toBe('repository:lib/app:pull')
    expect(new URL(tokenRequests[0]!).searchParams.get('service')).toBe('reg.test')
  })

  it('defaults to linux/amd64; wrong credentials and unknown platforms fail with codes', async () => {
    const image = await resolveImage(parseImageRef('http://reg.test/lib/app:v1'), { authorization: 'Basic dTpw', fetch: fakeFetch })
    expect(image.layers.map((l) => l.digest)).toEqual([D('a')])
    await expect(resolveImage(parseImageRef('http://reg.test/lib/app:v1'), { authorization: 'Basic bad', fetch: fakeFetch })).rejects.toMatchObject({
      code: 'E_UNAUTHORIZED',
    })
    await expect(
      resolveImage(parseImageRef('http://reg.test/lib/app:v1'), { platform: 'linux/s390x', authorization: 'Basic dTpw', fetch: fakeFetch }),
    ).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      message: expect.stringContaining('linux/amd64, linux/arm/v7'),
    })
    await expect(resolveImage(parseImageRef('http://reg.test/lib/app:nope'), { authorization: 'Basic dTpw', fetch: fakeFetch })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    })
  })
})
