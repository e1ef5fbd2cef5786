import { createHash as nodeCreateHash } from 'node:crypto'
import type { CreateHash } from '../core/contract/hash.ts'

/** node:crypto's streaming sha256; Bun and Deno implement it natively too. */
export const createSha256: CreateHash = () => {
  const hash = nodeCreateHash('sha256')
  return {
    update: (data) => void hash.update(data),
    digest: () => hash.digest('hex'),
  }
}
