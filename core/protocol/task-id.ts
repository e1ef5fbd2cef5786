import type { CreateHash } from '../contract/hash.ts'
import { createError } from '../errors.ts'
import { parseDigest, sha256Hex } from './digest.ts'

export interface TaskIdentity {
  url: string
  /** Query parameters left out of the id, e.g. signatures that change per request (`--filter a&b`). */
  filter?: string[]
  /** Expected content digest `sha256:<hex>`; part of the id. */
  digest?: string
  /** Free-form tag that separates otherwise identical URLs. */
  tag?: string
}

export const TASK_ID_RE = /^[0-9a-f]{64}$/

/** Names the task of content the daemon streams (its local download API and its proxy). */
export const TASK_ID_HEADER = 'x-dragonfly-task-id'

/** `a&b` or `a,b` → ['a', 'b']. */
export function parseFilter(filter: string | string[] | undefined): string[] {
  if (!filter) return []
  const parts = Array.isArray(filter) ? filter : [filter]
  return parts
    .flatMap((p) => p.split(/[&,]/))
    .map((p) => p.trim())
    .filter(Boolean)
}

/** The URL as it identifies content: filtered query params removed, fragment dropped. */
export function normalizeTaskUrl(url: string, filter: string[] = []): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw createError('E_BAD_ARGUMENT', `not a valid URL: ${JSON.stringify(url)}`, { cause })
  }
  parsed.hash = ''
  if (filter.length > 0) {
    for (const key of filter) parsed.searchParams.delete(key)
  }
  return parsed.toString()
}

/**
 * Task id: sha256 over the normalized URL, digest and tag. Request headers never take part.
 * `createHash` (the runtime's synchronous sha256) spares the supernode an async
 * `crypto.subtle` job per registration: a third of its CPU per register on Node.
 */
export async function computeTaskId(identity: TaskIdentity, createHash?: CreateHash): Promise<string> {
  const url = normalizeTaskUrl(identity.url, identity.filter)
  let digest = ''
  if (identity.digest) {
    const hex = parseDigest(identity.digest)
    if (!hex) throw createError('E_BAD_ARGUMENT', `digest must be sha256:<64 hex chars>, got ${JSON.stringify(identity.digest)}`)
    digest = `sha256:${hex}`
  }
  const text = JSON.stringify([url, digest, identity.tag ?? ''])
  if (!createHash) return sha256Hex(text)
  const hash = createHash()
  hash.update(new TextEncoder().encode(text))
  return hash.digest()
}
