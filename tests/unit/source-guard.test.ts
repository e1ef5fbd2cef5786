import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { embeddedIpv4, formatIp, inCidr, parseCidr, parseIp } from '../../core/source/ip-address.ts'
import { createSourceGuard } from '../../core/source/source-guard.ts'

const corpus = JSON.parse(await readFile(resolve(import.meta.dirname, '../corpus/hostile-sources.json'), 'utf8')) as {
  ssrf: { name: string; url: string }[]
}
const forbidden = expect.objectContaining({ code: 'E_FORBIDDEN' })

describe('IP literals', () => {
  it('reads IPv4 in every form a resolver takes, and refuses what is not one', () => {
    for (const s of ['169.254.169.254', '2852039166', '0xa9fea9fe', '0251.0376.0251.0376', '169.254.43518', '0xa9.0376.0xa9fe', '169.16689662'])
      expect(formatIp(parseIp(s)!), s).toBe('169.254.169.254')
    for (const s of ['example.com', '1.2.3.4.5', '256.1.1.1', '4294967296', '1..2', '08.1.1.1', 'deadbeef', '']) expect(parseIp(s), s).toBeNull()
  })

  it('reads IPv6 with a dotted tail or zone, and refuses malformed ones', () => {
    expect(formatIp(parseIp('[::ffff:169.254.169.254]')!)).toBe('::ffff:a9fe:a9fe')
    expect(formatIp(parseIp('fe80::1%eth0')!)).toBe('fe80::1')
    for (const s of ['1:2:3:4:5:6:7:8:9', '1::2::3', '::g', '12345::', '::1.2.3', '1:2:3:4:5:6:7::8:9']) expect(parseIp(s), s).toBeNull()
  })

  it('finds the IPv4 address every translation form carries', () => {
    for (const s of ['::ffff:a9fe:a9fe', '::ffff:0:a9fe:a9fe', '::a9fe:a9fe', '64:ff9b::a9fe:a9fe', '64:ff9b:1:2::a9fe:a9fe', '2002:a9fe:a9fe::'])
      expect(embeddedIpv4(parseIp(s)!).map(formatIp), s).toContain('169.254.169.254')
    expect(embeddedIpv4(parseIp('2001:0:4136:e378:8000:63bf:5601:5601')!).map(formatIp)).toContain('169.254.169.254')
    expect(embeddedIpv4(parseIp('2606:4700::a9fe:a9fe')!)).toEqual([])
  })

  it('matches CIDR ranges on bit boundaries', () => {
    const r = parseCidr('fe80::/10')!
    expect(inCidr(parseIp('febf::1')!, r)).toBe(true)
    expect(inCidr(parseIp('fec0::1')!, r)).toBe(false)
    expect(inCidr(parseIp('10.1.2.3')!, parseCidr('10.0.0.0/8')!)).toBe(true)
    expect(inCidr(parseIp('10.1.2.3')!, parseCidr('fe80::/10')!)).toBe(false)
    for (const s of ['10.0.0.0/33', '10.0.0.0/x', '10.0.0.0/', 'host/8']) expect(parseCidr(s), s).toBeNull()
  })
})

describe('source guard (SSRF)', () => {
  it('refuses every spelling of a metadata endpoint in the corpus, and lets an ordinary source through', () => {
    const guard = createSourceGuard()
    for (const c of corpus.ssrf) expect(() => guard(c.url), c.name).toThrow(forbidden)
    expect(() => guard('https://registry.example.com/v2/')).not.toThrow()
    expect(() => guard('http://127.0.0.1:8080/file')).not.toThrow()
  })

  it('checks resolved addresses, embedded IPv4 included, whatever the name', () => {
    const guard = createSourceGuard({ deny: ['10.0.0.0/8'] })
    expect(() => guard('http://innocent.example/')).not.toThrow()
    for (const a of ['169.254.169.254', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', 'fe80::1', '10.2.3.4', '::ffff:10.2.3.4'])
      expect(() => guard.address(a, 'innocent.example'), a).toThrow(forbidden)
    expect(() => guard.address('93.184.216.34', 'innocent.example')).not.toThrow()
    expect(() => guard.address('not-an-address', 'innocent.example')).toThrow(forbidden)
  })

  it('honours allow and deny lists of names, addresses and ranges; deny wins', () => {
    const strict = createSourceGuard({ allow: ['*.example.com', '192.0.2.0/24'], deny: ['bad.example.com'] })
    expect(() => strict('https://cdn.example.com/x')).not.toThrow()
    expect(() => strict('https://cdn.example.com./x')).not.toThrow()
    expect(() => strict('http://192.0.2.7:8080/x')).not.toThrow()
    expect(() => strict('http://198.51.100.1/x')).toThrow(forbidden)
    expect(() => strict('https://bad.example.com/x')).toThrow(forbidden)
    // A name the allow list does not name is judged by where it resolves.
    expect(() => strict.address('192.0.2.9', 'other.org')).not.toThrow()
    expect(() => strict.address('198.51.100.1', 'other.org')).toThrow(forbidden)
    // An allowed name still never reaches a denied range.
    expect(() => strict.address('169.254.169.254', 'cdn.example.com')).toThrow(forbidden)
    const names = createSourceGuard({ allow: ['*.example.com'] })
    expect(() => names('https://evil.org/x')).toThrow(forbidden)
    expect(() => names('https://a.b.example.com/x')).toThrow(forbidden)
  })
})
