import { createError } from '../errors.ts'
import { type PieceLayout, pieceRange } from '../protocol/piece-layout.ts'
import type { RateLimiter } from './rate-limit.ts'

export interface CutOptions {
  layout: PieceLayout
  /** First piece the body starts at (a resumed Range response). */
  firstPiece: number
  /** For error messages. */
  url: string
  onPiece(piece: number, bytes: Uint8Array): Promise<void>
  onBytes?(count: number): void
  /** Paces reading the body (the host's or task's download limit). */
  limiter?: RateLimiter
}

/**
 * Cuts a source body into whole pieces of the layout, in order. A body that
 * is longer than the layout says stops with E_SOURCE_TOO_LONG, a shorter one
 * with E_SOURCE_TRUNCATED (after the whole pieces it did deliver).
 */
export async function cutIntoPieces(body: ReadableStream<Uint8Array> | null, options: CutOptions): Promise<void> {
  const { layout, url } = options
  let piece = options.firstPiece
  const sizeOf = (n: number): number => (n < layout.pieceCount ? pieceRange(layout, n).length : 0)
  let buffer = new Uint8Array(sizeOf(piece))
  let filled = 0
  if (body) {
    const reader = body.getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read().catch((error: unknown) => {
          // Every piece is in: a connection that breaks after the last byte lost nothing.
          if (piece >= layout.pieceCount) return { done: true as const, value: undefined }
          if ((error as Error)?.name === 'AbortError') throw error
          const why = ((error as Error)?.cause as Error)?.message ?? (error as Error)?.message ?? String(error)
          throw createError('E_SOURCE_TRUNCATED', `connection to ${url} broke after ${piece} whole pieces: ${why}`, {
            cause: error,
            details: { pieces: piece },
          })
        })
        if (done) break
        options.onBytes?.(value.byteLength)
        await options.limiter?.take(value.byteLength)
        let at = 0
        while (at < value.byteLength) {
          if (piece >= layout.pieceCount) throw createError('E_SOURCE_TOO_LONG', `source sent more than ${layout.contentLength} bytes for ${url}`)
          const n = Math.min(buffer.byteLength - filled, value.byteLength - at)
          buffer.set(value.subarray(at, at + n), filled)
          filled += n
          at += n
          if (filled === buffer.byteLength) {
            await options.onPiece(piece, buffer)
            piece++
            filled = 0
            buffer = new Uint8Array(sizeOf(piece))
          }
        }
      }
    } catch (error) {
      await reader.cancel().catch(() => {})
      throw error
    }
  }
  if (piece < layout.pieceCount) {
    throw createError('E_SOURCE_TRUNCATED', `source ended after ${piece} of ${layout.pieceCount} pieces for ${url}`, { details: { pieces: piece } })
  }
}

/** Content-Length as a safe integer, or null. */
export function contentLengthOf(response: Response): number | null {
  const raw = response.headers.get('content-length')
  if (raw === null || !/^\d+$/.test(raw.trim())) return null
  const n = Number(raw)
  return Number.isSafeInteger(n) ? n : null
}

/** A 206 continues a partial copy only when it starts at `offset` and runs to the end of an unchanged total. */
export function rangeContinues(response: Response, offset: number, total: number | null): number | null {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers.get('content-range') ?? '')
  if (!m || Number(m[1]) !== offset) return null
  const size = Number(m[3])
  if (Number(m[2]) !== size - 1 || (total !== null && size !== total)) return null
  return size
}
