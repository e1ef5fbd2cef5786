import type { ParentDto } from './api-schema.ts'

/**
 * A name for a parent list, whatever its order: 64 bits of FNV-1a over the
 * sorted entries, as 16 hex digits. Only ever compared with the tag the same
 * peer was given, so a collision can at worst keep a peer on its old parents
 * until the list changes again.
 */
export function parentsTag(parents: readonly ParentDto[]): string {
  const entries = parents.map((p) => `${p.id} ${p.address} ${p.location ?? ''}`).sort()
  let a = 0x811c9dc5
  let b = 0x050c5d1f
  for (const entry of entries) {
    for (let i = 0; i < entry.length; i++) {
      const c = entry.charCodeAt(i)
      a = Math.imul(a ^ c, 0x01000193)
      b = Math.imul(b ^ c, 0x01000193) ^ (a >>> 7)
    }
    a = Math.imul(a ^ 0x0a, 0x01000193)
    b = Math.imul(b ^ 0x0a, 0x01000193)
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0')
}
