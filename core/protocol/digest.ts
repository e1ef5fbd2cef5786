/** sha256 helpers on Web Crypto, so the same code runs on Node, Bun and Deno. */
import type { CreateHash } from '../contract/hash.ts'

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]
  return out
}

/** The bytes of a hex string of even length (the caller checked it is hex). */
export function fromHex(hex: string, into: Uint8Array<ArrayBuffer> = new Uint8Array(hex.length >> 1), at = 0): Uint8Array<ArrayBuffer> {
  for (let i = 0; i < hex.length >> 1; i++) into[at + i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)
  return into
}

/** Base64 of bytes, with the runtime-neutral btoa (core has no Buffer). */
export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]!)
  return btoa(binary)
}

/** The bytes of a base64 string; throws on one that is not base64 (atob's DOMException). */
export function fromBase64(encoded: string): Uint8Array {
  return Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0))
}

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  const hash = await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)
  return toHex(new Uint8Array(hash))
}

const DIGEST_RE = /^sha256:([0-9a-f]{64})$/

/** Parses `sha256:<64 hex>` (case-insensitive) into the lower-case hex, or null. */
export function parseDigest(value: string): string | null {
  const match = DIGEST_RE.exec(value.trim().toLowerCase())
  return match ? match[1]! : null
}

/** sha256 of one buffer with the runtime's hasher: cheaper than Web Crypto for piece-sized data (no copy to a worker). */
export function hashHex(createHash: CreateHash, data: Uint8Array): string {
  const h = createHash()
  h.update(data)
  return h.digest()
}
