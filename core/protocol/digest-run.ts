import { fromBase64, fromHex, toBase64, toHex } from './digest.ts'

/** Bytes of one piece digest (sha256). */
const DIGEST_BYTES = 32
const HEX_DIGEST = /^[0-9a-f]{64}$/

/**
 * Piece digests on the wire as one base64 string of raw 32-byte digests
 * (`SyncResponse.digestsBase64`): under 43 characters a piece instead of 67 for a
 * quoted hex string and its comma. For 256 pieces that is 11 KB instead of
 * 17 KB in every peer's first sync answer, all of it on the supernode's uplink.
 *
 * The run starts at `from` and stops at the first piece whose digest is not
 * known, or after `max`. `complete` is false when a later digest is known
 * past that gap (the caller then sends the list form, which can say "not yet"
 * for one piece and give the next).
 */
export function encodeDigestRun(digests: readonly (string | undefined)[], from: number, max: number): { count: number; base64: string; complete: boolean } {
  const end = Math.min(digests.length, from + max)
  // Most answers carry every digest from the first piece on (a peer's first sync on a cached task): the run
  // checked and encoded last time is still good (digests are set once), so checking resumes after it.
  const cached = from === 0 ? runs.get(digests) : undefined
  let count = cached ? Math.min(cached.count, end) : 0
  // A digest that is not 64 hex digits (never made here; a cluster store could hold one) ends the run like an unknown one.
  while (from + count < end && HEX_DIGEST.test(digests[from + count] ?? '')) count++
  let complete = true
  for (let n = from + count; n < end; n++) {
    if (digests[n] !== undefined) {
      complete = false
      break
    }
  }
  if (count === 0) return { count, base64: '', complete }
  if (cached?.count === count) return { count, base64: cached.base64, complete }
  const bytes = new Uint8Array(count * DIGEST_BYTES)
  for (let i = 0; i < count; i++) fromHex(digests[from + i]!, bytes, i * DIGEST_BYTES)
  const base64 = toBase64(bytes)
  // A shorter run (a smaller `max`) does not replace a longer one.
  if (from === 0 && count > (cached?.count ?? 0)) runs.set(digests, { count, base64 })
  return { count, base64, complete }
}

/** The last run from piece 0 per digest list (a swarm's digests are set once and never change). */
const runs = new WeakMap<readonly (string | undefined)[], { count: number; base64: string }>()

/** The hex digests in a `digestsBase64` string; null when it is not whole digests in base64 or holds more than `max`. */
export function decodeDigestRun(base64: string, max: number): string[] | null {
  if (base64.length > Math.ceil((max * DIGEST_BYTES) / 3) * 4 || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 !== 0) return null
  let bytes: Uint8Array
  try {
    bytes = fromBase64(base64)
  } catch {
    return null
  }
  if (bytes.byteLength % DIGEST_BYTES !== 0) return null
  const out: string[] = []
  for (let at = 0; at < bytes.byteLength; at += DIGEST_BYTES) out.push(toHex(bytes.subarray(at, at + DIGEST_BYTES)))
  return out
}
