import type { Context } from 'hono'
import { createError } from '../errors.ts'

export const MAX_JSON_BODY = 4 * 1024 * 1024

/** Reads a JSON request body with a size cap and a content-type check; errors carry codes. */
export async function readJson(c: Context, limit = MAX_JSON_BODY, mediaType = /^application\/json\b/i): Promise<unknown> {
  const type = c.req.header('content-type') ?? ''
  if (!mediaType.test(type)) throw createError('E_UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json')
  const length = c.req.header('content-length')
  const declared = Number(length ?? '0')
  if (declared > limit) throw createError('E_PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`)
  // A declared length bounds the body (HTTP framing): read it whole, which on Node skips building a
  // web Request and its stream for every pull (measured: a tenth of the supernode's JS per request).
  if (length !== undefined && /^\d+$/.test(length)) return parseJson(new Uint8Array(await c.req.arrayBuffer()))
  const body = c.req.raw.body
  if (!body) throw createError('E_BAD_REQUEST', 'request body is empty')
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > limit) {
      await reader.cancel().catch(() => {})
      throw createError('E_PAYLOAD_TOO_LARGE', `request body over ${limit} bytes`, { closeConnection: true })
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return parseJson(bytes)
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw createError('E_BAD_REQUEST', 'request body is not valid JSON')
  }
}
