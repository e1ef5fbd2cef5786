import { describe, expect, it } from 'vitest'
import { parseConnectTarget } from '../../runtime/connect-target.ts'

// CONNECT targets as the tunnels (Node/Bun and Deno) read them: the guard and the resolver must see one host.
describe('parseConnectTarget', () => {
  it.each([
    ['example.com:443', 'example.com', 443, 'http://example.com:443/'],
    ['127.0.0.1:80', '127.0.0.1', 80, 'http://127.0.0.1:80/'],
    ['[::1]:8080', '::1', 8080, 'http://[::1]:8080/'],
    ['[::ffff:169.254.169.254]:80', '::ffff:169.254.169.254', 80, 'http://[::ffff:169.254.169.254]:80/'],
    ['0xa9fea9fe:80', '0xa9fea9fe', 80, 'http://0xa9fea9fe:80/'],
    ['metadata.google.internal.:80', 'metadata.google.internal.', 80, 'http://metadata.google.internal.:80/'],
  ])('%s is host %s port %i', (target, host, port, url) => {
    expect(parseConnectTarget(target)).toEqual({ host, port, url })
  })

  it.each([
    'x?.corp.internal:443', // the URL parser would see host `x`, the resolver `x?.corp.internal`
    '127.0.0.1@a.com:80',
    'x#@y:80',
    'a\\b:80',
    '::1:80', // IPv6 without brackets
    '[::1]',
    'host',
    'host:0',
    'host:65536',
    ' host:80',
    'host:80 ',
    '[fe80::1%25eth0]:80',
    '',
  ])('refuses %j', (target) => {
    expect(parseConnectTarget(target)).toBeUndefined()
  })
})
