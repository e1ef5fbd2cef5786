import type { SourceRequest } from '../../contract/plugin.ts'
import { createError } from '../../errors.ts'
import { createPieceLayout } from '../../protocol/piece-layout.ts'
import { sourceStatusError } from '../../source/fetch-source.ts'
import { contentLengthOf, rangeContinues } from '../../transfer/piece-cutter.ts'
import type { CdnMeta } from './cdn-task.ts'

/** What the source said about a cached copy. */
export type Revalidation =
  /** The complete cache is current (304): serve it. */
  | { kind: 'unchanged' }
  /** New bytes follow: all of them (200), or the rest of a partial cache (206 to If-Range). */
  | { kind: 'fetch'; response: Response; contentLength: number; resumedFrom: CdnMeta | null; offset: number }

/** A complete cache: every piece's digest is known. */
export function isComplete(meta: CdnMeta | null): boolean {
  return !!meta?.complete && meta.digests.length === createPieceLayout(meta.contentLength, meta.pieceSize).pieceCount
}

/**
 * The passive CDN's cache-validation flow. A complete cache asks the source
 * "changed?" with its validators (304 keeps it, 200 replaces it); a partial
 * one asks for the rest only if the content is unchanged (Range + If-Range:
 * 206 resumes, 200 starts again). Without validators the cache cannot be
 * trusted and the content is fetched whole.
 */
export async function revalidate(
  meta: CdnMeta | null,
  url: string,
  fetchSource: (init: Pick<SourceRequest, 'range' | 'validators'>) => Promise<Response>,
): Promise<Revalidation> {
  const validators = meta && (meta.etag || meta.lastModified) ? { etag: meta.etag, lastModified: meta.lastModified } : undefined
  const complete = isComplete(meta)
  const partial = meta && !complete && meta.digests.length > 0 && validators ? meta : null
  const offset = partial ? partial.digests.length * partial.pieceSize : 0
  const response = await fetchSource({
    ...(complete && validators ? { validators } : {}),
    ...(partial ? { range: { start: offset }, validators } : {}),
  })
  if (complete && response.status === 304) {
    await response.body?.cancel().catch(() => {})
    return { kind: 'unchanged' }
  }
  const resumed = partial !== null && response.status === 206 && rangeContinues(response, offset, partial.contentLength) !== null
  if (response.status !== 200 && !resumed) {
    await response.body?.cancel().catch(() => {})
    throw sourceStatusError(url, response.status)
  }
  const contentLength = resumed ? partial.contentLength : contentLengthOf(response)
  if (contentLength === null) {
    await response.body?.cancel().catch(() => {})
    throw createError('E_SOURCE_STATUS', `source gave no Content-Length for ${url}; chunked sources are not supported yet`)
  }
  return { kind: 'fetch', response, contentLength, resumedFrom: resumed ? partial : null, offset: resumed ? offset : 0 }
}
