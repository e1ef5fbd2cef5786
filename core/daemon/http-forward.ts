import { createError, isDragonflyError } from '../errors.ts'

/** Headers that describe one connection, not the message; never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]

/** A copy of `headers` without hop-by-hop fields (also those the Connection header names). */
export function endToEndHeaders(headers: Headers): Headers {
  const out = new Headers(headers)
  for (const name of (headers.get('connection') ?? '').split(',')) if (name.trim()) out.delete(name.trim())
  for (const name of HOP_BY_HOP) out.delete(name)
  return out
}

/**
 * Passes a request on to `target` and the answer back: method, body, status
 * and end-to-end headers kept, body streamed both ways. Redirects reach the
 * client as they are. Only an unreachable target throws
 * (E_SOURCE_UNREACHABLE), or one `connect` refuses (the SSRF guard's fetch:
 * E_FORBIDDEN); any status is an answer.
 */
export async function forwardRequest(request: Request, target: string, connect: typeof fetch = fetch): Promise<Response> {
  const headers = endToEndHeaders(request.headers)
  // The body must reach the client as the upstream encoded it; ask for none so no runtime decodes it on the way.
  headers.set('accept-encoding', 'identity')
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD' && request.body !== null
  let upstream: Response
  try {
    upstream = await connect(target, {
      method: request.method,
      headers,
      redirect: 'manual',
      signal: request.signal,
      ...(hasBody ? { body: request.body, duplex: 'half' } : {}),
    } as RequestInit)
  } catch (error) {
    const refusal = [error, (error as Error)?.cause].find(isDragonflyError)
    if (refusal) throw refusal
    const why = ((error as Error)?.cause as Error | undefined)?.message ?? (error as Error)?.message ?? String(error)
    throw createError('E_SOURCE_UNREACHABLE', `cannot reach ${new URL(target).host}: ${why}`, { cause: error })
  }
  const out = endToEndHeaders(upstream.headers)
  if (out.has('content-encoding')) {
    // The runtime may have decoded it anyway; the length no longer matches what we pass on.
    out.delete('content-encoding')
    out.delete('content-length')
  }
  const empty = request.method === 'HEAD' || upstream.status === 204 || upstream.status === 304
  if (empty) await upstream.body?.cancel().catch(() => {})
  return new Response(empty ? null : upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out })
}
