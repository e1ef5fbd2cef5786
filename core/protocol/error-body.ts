import * as v from 'valibot'
import { createError, type DragonflyError, type ErrorCode, isErrorCode, toDragonflyError } from '../errors.ts'

/**
 * Errors on the wire. A server answers a failure with its code's status and
 * `{"error": {"code", "message", "details"?}}`; a client turns that body back
 * into the same coded error. A body comes from the network: one that is too
 * long, not JSON, not this shape or names a code this build does not know
 * becomes the caller's fallback code, never a crash.
 */

/** Error bodies are a few hundred bytes; a longer one is not ours and is not parsed. */
export const MAX_ERROR_BODY = 64 * 1024
/** Messages end up in logs and terminals. */
const MAX_MESSAGE = 4096

/** One error as it travels: `DragonflyError#toJSON()`. */
export type ErrorJson = ReturnType<DragonflyError['toJSON']>

/** The body of every error answer. */
export interface ErrorBody {
  error: ErrorJson
}

const ReceivedError = v.object({
  code: v.pipe(v.string(), v.maxLength(64)),
  message: v.optional(
    v.pipe(
      v.string(),
      v.transform((m) => (m.length > MAX_MESSAGE ? `${m.slice(0, MAX_MESSAGE)}…` : m)),
    ),
  ),
  // Extra facts: malformed ones are dropped, the code still counts.
  details: v.fallback(v.optional(v.record(v.string(), v.unknown())), undefined),
})
type ReceivedError = v.InferOutput<typeof ReceivedError>

const ReceivedBody = v.object({ error: ReceivedError })

export interface ErrorSource {
  /** Who answered, as messages name it: `supernode http://10.0.0.1:8002`, `daemon http://127.0.0.1:65001`. */
  from: string
  /** The code when the answer names none this build knows, or is no Dragonfly error body at all. */
  fallback: ErrorCode
}

export function errorBody(error: DragonflyError): ErrorBody {
  return { error: error.toJSON() }
}

/** The one place an error becomes an HTTP response (the apps' `onError`). */
export function toErrorResponse(error: unknown): Response {
  const err = toDragonflyError(error)
  const headers = err.closeConnection ? { connection: 'close' } : undefined
  return Response.json(errorBody(err), { status: err.status, headers })
}

/**
 * The coded error an error answer carries. `body` is its text, or its JSON
 * already parsed (ofetch's `FetchError#data`).
 */
export function decodeErrorBody(status: number, body: unknown, source: ErrorSource): DragonflyError {
  const answered = `${source.from} answered ${status}`
  const parsed = v.safeParse(ReceivedBody, typeof body === 'string' ? parseJson(body) : body)
  return parsed.success ? toCoded(parsed.output.error, source, answered) : createError(source.fallback, answered)
}

/** Reads an error answer's body (at most MAX_ERROR_BODY bytes) and decodes it. */
export async function errorFromResponse(response: Response, source: ErrorSource): Promise<DragonflyError> {
  return decodeErrorBody(response.status, await readCapped(response), source)
}

/** An error object inside a successful answer (a pull's or a preheat's `error`) as a coded error. */
export function decodeError(json: unknown, source: ErrorSource): DragonflyError {
  const parsed = v.safeParse(ReceivedError, json)
  return parsed.success
    ? toCoded(parsed.output, source, `${source.from} reported an error`)
    : createError(source.fallback, `${source.from} reported a malformed error`)
}

function toCoded(error: ReceivedError, source: ErrorSource, context: string): DragonflyError {
  const { code, message, details } = error
  if (isErrorCode(code)) return createError(code, message ?? context, details ? { details } : undefined)
  return createError(source.fallback, `${context} with unknown code ${JSON.stringify(code)}${message === undefined ? '' : `: ${message}`}`)
}

function parseJson(text: string): unknown {
  if (text.length > MAX_ERROR_BODY) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The body as text, or null when it is longer than MAX_ERROR_BODY or breaks off. */
async function readCapped(response: Response): Promise<string | null> {
  if (!response.body) return ''
  if (Number(response.headers.get('content-length') ?? 0) > MAX_ERROR_BODY) {
    await response.body.cancel().catch(() => {})
    return null
  }
  const decoder = new TextDecoder()
  let text = ''
  let size = 0
  try {
    const reader = response.body.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return text + decoder.decode()
      size += value.byteLength
      if (size > MAX_ERROR_BODY) {
        await reader.cancel().catch(() => {})
        return null
      }
      text += decoder.decode(value, { stream: true })
    }
  } catch {
    return null
  }
}
