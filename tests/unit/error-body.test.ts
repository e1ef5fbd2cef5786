import { describe, expect, it } from 'vitest'
import { createError, DragonflyError } from '../../core/errors.ts'
import { decodeError, decodeErrorBody, errorFromResponse, MAX_ERROR_BODY, toErrorResponse } from '../../core/protocol/error-body.ts'

const supernode = { from: 'supernode http://127.0.0.1:1', fallback: 'E_NO_SUPERNODE' } as const

function answer(status: number, body: BodyInit | null, type = 'application/json'): Response {
  return new Response(body, { status, headers: { 'content-type': type } })
}

describe('error bodies', () => {
  it('round-trip: what a server answers decodes to the same code, message and details', async () => {
    const sent = createError('E_SOURCE_STATUS', 'source answered 404', { details: { status: 404 } })
    const res = toErrorResponse(sent)
    expect(res.status).toBe(502)
    const got = await errorFromResponse(res, supernode)
    expect(got).toBeInstanceOf(DragonflyError)
    expect(got.toJSON()).toEqual(sent.toJSON())
  })

  it('takes the body as text or as JSON already parsed (ofetch)', () => {
    const body = { error: { code: 'E_UNKNOWN_TASK', message: 'no task here' } }
    expect(decodeErrorBody(404, JSON.stringify(body), supernode).toJSON()).toEqual(body.error)
    expect(decodeErrorBody(404, body, supernode).toJSON()).toEqual(body.error)
  })

  it.each([
    ['a code this build does not know', { error: { code: 'E_FROM_THE_FUTURE', message: 'x' } }],
    ['a code that is a property of every object', { error: { code: 'toString', message: 'x' } }],
    ['__proto__ as the code', '{"error":{"code":"__proto__","message":"x"}}'],
    ['no code', { error: { message: 'x' } }],
    ['a code that is not a string', { error: { code: 7, message: 'x' } }],
    ['no error object', { code: 'E_UNKNOWN_TASK', message: 'x' }],
    ['an error that is a string', { error: 'E_UNKNOWN_TASK' }],
    ['a JSON array', [1, 2]],
    ['JSON null', 'null'],
    ['text that is not JSON', '<html>502 Bad Gateway</html>'],
    ['an empty body', ''],
    ['no body', null],
  ])('%s gives the fallback code, with the status in the message', (_name, body) => {
    const error = decodeErrorBody(502, body, supernode)
    expect(error).toBeInstanceOf(DragonflyError)
    expect(error.code).toBe('E_NO_SUPERNODE')
    expect(error.message).toContain('supernode http://127.0.0.1:1 answered 502')
  })

  it('names an unknown code in the message, quoted', () => {
    expect(decodeErrorBody(500, { error: { code: 'E_NEW\u001b[2J', message: 'later' } }, supernode).message).toBe(
      'supernode http://127.0.0.1:1 answered 500 with unknown code "E_NEW\\u001b[2J": later',
    )
  })

  it('keeps a known code whose message is missing, and drops malformed details', () => {
    const error = decodeErrorBody(404, { error: { code: 'E_UNKNOWN_TASK', details: 'not an object' } }, supernode)
    expect(error.code).toBe('E_UNKNOWN_TASK')
    expect(error.message).toBe('supernode http://127.0.0.1:1 answered 404')
    expect(error.details).toBeUndefined()
  })

  it('cuts a long message', () => {
    const error = decodeErrorBody(400, { error: { code: 'E_BAD_REQUEST', message: 'x'.repeat(100_000) } }, supernode)
    expect(error.code).toBe('E_BAD_REQUEST')
    expect(error.message.length).toBeLessThanOrEqual(4097)
  })

  it('does not parse a body over MAX_ERROR_BODY, as text or as a stream without a length', async () => {
    const huge = JSON.stringify({ error: { code: 'E_UNKNOWN_TASK', message: 'x'.repeat(MAX_ERROR_BODY) } })
    expect(decodeErrorBody(404, huge, supernode).code).toBe('E_NO_SUPERNODE')
    expect((await errorFromResponse(answer(404, huge), supernode)).code).toBe('E_NO_SUPERNODE')

    // A body that never ends: reading stops at the cap and cancels it.
    let cancelled = false
    const endless = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(new Uint8Array(16 * 1024).fill(0x20)),
      cancel: () => {
        cancelled = true
      },
    })
    const error = await errorFromResponse(answer(500, endless), { from: 'daemon', fallback: 'E_DOWNLOAD_FAILED' })
    expect(error.toJSON()).toEqual({ code: 'E_DOWNLOAD_FAILED', message: 'daemon answered 500' })
    expect(cancelled).toBe(true)
  })

  it('gives the fallback for a body that breaks off', async () => {
    const broken = new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(new TextEncoder().encode('{"error":'))
        controller.error(new Error('connection reset'))
      },
    })
    expect((await errorFromResponse(answer(503, broken), supernode)).code).toBe('E_NO_SUPERNODE')
  })

  it('decodes the error object inside a successful answer (a pull, a preheat state)', () => {
    expect(decodeError({ code: 'E_NOT_READY', message: 'shutting down' }, supernode).toJSON()).toEqual({ code: 'E_NOT_READY', message: 'shutting down' })
    expect(decodeError({ code: 'E_LATER', message: 'x' }, supernode).code).toBe('E_NO_SUPERNODE')
    expect(decodeError('E_NOT_READY', supernode).code).toBe('E_NO_SUPERNODE')
  })
})
