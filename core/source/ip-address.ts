/**
 * IP addresses as bytes, for the SSRF guard: parse a literal (v4 in every
 * form inet_aton takes, v6 with or without a trailing dotted quad), find the
 * IPv4 address an IPv6 one carries, match CIDR ranges.
 */

/** 4 bytes (IPv4) or 16 (IPv6). */
export type IpBytes = Uint8Array

/**
 * Parses an IP literal, or null when `text` is not one. IPv4 takes the forms
 * resolvers accept and `new URL` normalises (`0xa9fea9fe`, `0251.0376.0251.0376`,
 * `2852039166`, `169.254.43518`); IPv6 may be bracketed and carry a zone.
 */
export function parseIp(text: string): IpBytes | null {
  let s = text.trim().toLowerCase()
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1)
  if (s.includes(':')) return parseIpv6(s.replace(/%.*$/, ''))
  return parseIpv4(s)
}

function parseIpv4(s: string): IpBytes | null {
  const parts = s.split('.')
  if (parts.length > 4 || parts.some((p) => p === '')) return null
  const values: number[] = []
  for (const p of parts) {
    const m = /^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$/.exec(p)
    if (!m) return null
    const value = p.startsWith('0x')
      ? p.length === 2
        ? 0
        : Number.parseInt(p.slice(2), 16)
      : p.length > 1 && p.startsWith('0')
        ? Number.parseInt(p, 8)
        : Number(p)
    if (!Number.isSafeInteger(value)) return null
    values.push(value)
  }
  // a.b.c.d, a.b.c (c fills 16 bits), a.b (b fills 24), a (32 bits).
  const last = values.pop() ?? 0
  if (values.some((v) => v > 255) || last >= 2 ** (8 * (4 - values.length))) return null
  const out = new Uint8Array(4)
  values.forEach((v, i) => {
    out[i] = v
  })
  for (let i = 3, rest = last; i >= values.length; i--, rest = Math.floor(rest / 256)) out[i] = rest % 256
  return out
}

function parseIpv6(s: string): IpBytes | null {
  let head = s
  let tail: IpBytes | null = null
  const lastColon = s.lastIndexOf(':')
  if (s.slice(lastColon + 1).includes('.')) {
    tail = parseDottedQuad(s.slice(lastColon + 1))
    if (!tail) return null
    head = `${s.slice(0, lastColon + 1)}0:0`
  }
  const halves = head.split('::')
  if (halves.length > 2) return null
  const words = (h: string | undefined) => (h ? h.split(':') : [])
  const left = words(halves[0])
  const right = words(halves[1])
  const missing = 8 - left.length - right.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right]
  const out = new Uint8Array(16)
  for (const [i, w] of all.entries()) {
    if (!/^[0-9a-f]{1,4}$/.test(w)) return null
    const n = Number.parseInt(w, 16)
    out[2 * i] = n >> 8
    out[2 * i + 1] = n & 0xff
  }
  if (tail) out.set(tail, 12)
  return out
}

/** The strict a.b.c.d form an IPv6 literal may end with. */
function parseDottedQuad(s: string): IpBytes | null {
  const parts = s.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) return null
  return Uint8Array.from(parts.map(Number))
}

function startsWith(bytes: IpBytes, prefix: number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b)
}

/**
 * The IPv4 address an IPv6 one stands for, where a host or a translator
 * would deliver it to that IPv4 address: IPv4-mapped `::ffff:0:0/96`, the
 * SIIT form `::ffff:0:0:0/96`, IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`
 * (RFC 6052) and `64:ff9b:1::/48` (RFC 8215, any of its /96), 6to4
 * `2002::/16` (RFC 3056) and Teredo `2001::/32` (RFC 4380: client address
 * inverted in the last 32 bits; its server address in bits 32-63 is also
 * returned).
 */
export function embeddedIpv4(bytes: IpBytes): IpBytes[] {
  if (bytes.length !== 16) return []
  const zeros = (n: number) => Array<number>(n).fill(0)
  const last = bytes.slice(12, 16)
  if (startsWith(bytes, [...zeros(10), 0xff, 0xff])) return [last]
  if (startsWith(bytes, [...zeros(8), 0xff, 0xff, 0, 0])) return [last]
  if (startsWith(bytes, zeros(12))) return [last]
  if (startsWith(bytes, [0, 0x64, 0xff, 0x9b, ...zeros(8)])) return [last]
  if (startsWith(bytes, [0, 0x64, 0xff, 0x9b, 0, 1])) return [last]
  if (startsWith(bytes, [0x20, 0x02])) return [bytes.slice(2, 6)]
  if (startsWith(bytes, [0x20, 0x01, 0, 0])) return [bytes.slice(4, 8), last.map((b) => b ^ 0xff)]
  return []
}

export interface Cidr {
  bytes: IpBytes
  bits: number
}

/** `10.0.0.0/8`, `fe80::/10`, or a single address (all its bits). Null when not one. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.lastIndexOf('/')
  const bytes = parseIp(slash < 0 ? text : text.slice(0, slash))
  if (!bytes) return null
  const bits = slash < 0 ? bytes.length * 8 : Number(text.slice(slash + 1))
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8 || (slash >= 0 && !/^\d+$/.test(text.slice(slash + 1)))) return null
  return { bytes, bits }
}

export function inCidr(address: IpBytes, range: Cidr): boolean {
  if (address.length !== range.bytes.length) return false
  for (let bit = 0; bit < range.bits; bit += 8) {
    const take = Math.min(8, range.bits - bit)
    const mask = (0xff << (8 - take)) & 0xff
    if (((address[bit / 8] ?? 0) & mask) !== ((range.bytes[bit / 8] ?? 0) & mask)) return false
  }
  return true
}

/** Dotted quad or RFC 5952-ish hex words, for messages. */
export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.')
  const words: string[] = []
  for (let i = 0; i < 16; i += 2) words.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16))
  return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::')
}
