/** sha256 helpers on Web Crypto, so the same code runs on Node, Bun and Deno. */
import type { CreateHash } from '../contract/hash.ts'

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!]
  return out
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
