import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

// One keep-alive pool per process: a peer's pulls go to the same one or two supernodes.
const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) }

/** Largest answer read into memory: a registration carries one digest per piece (~70 bytes each). */
const MAX_BODY_BYTES = 64 * 1024 * 1024

/**
 * `fetch` for the supernode API (small JSON requests and answers, long-polls)
 * over node:http. Node's global fetch (undici) costs a `get` ~0.1 s of CPU
 * before its first answer, most of it compiling undici's WebAssembly HTTP
 * parser (measured with perf on this 2-core machine: a process making one
 * request through fetch used 0.24 s of CPU, through node:http 0.09 s); with
 * 32 peers starting on two cores that is a second of the swarm's time. The
 * answer is read whole, up to MAX_BODY_BYTES. Anything this does not handle
 * (a Request object, a streamed body) goes to the global fetch.
 */
export const nodeApiFetch: typeof fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : undefined
  const body = init?.body
  if (
    url === undefined ||
    !(url.startsWith('http:') || url.startsWith('https:')) ||
    !(body == null || typeof body === 'string' || body instanceof Uint8Array)
  ) {
    return fetch(input, init)
  }
  return new Promise<Response>((resolve, reject) => {
    const secure = url.startsWith('https:')
    const options = {
      method: init?.method ?? 'GET',
      headers: headerRecord(init?.headers),
      agent: secure ? agents.https : agents.http,
      signal: init?.signal ?? undefined,
    }
    // As fetch does, an aborted request rejects with the signal's reason (ofetch tells a timeout by it).
    const fail = (error: unknown): void => reject(options.signal?.aborted ? options.signal.reason : error)
    const request = (secure ? httpsRequest : httpRequest)(url, options, (res) => readAnswer(res, options.method).then(resolve, fail))
    request.once('error', fail)
    request.end(body ?? undefined)
  })
}

function readAnswer(res: IncomingMessage, method: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let bytes = 0
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength
      if (bytes > MAX_BODY_BYTES) res.destroy(new Error(`answer is longer than ${MAX_BODY_BYTES} bytes`))
      else chunks.push(chunk)
    })
    res.once('error', reject)
    res.once('end', () => {
      const status = res.statusCode ?? 0
      const empty = method === 'HEAD' || status === 204 || status === 205 || status === 304
      try {
        const headers = new Headers()
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!)
        // Headers and Response refuse what no API answer has (a status outside 200-599, a bad header value).
        resolve(new Response(empty ? null : Buffer.concat(chunks, bytes), { status, statusText: res.statusMessage ?? '', headers }))
      } catch (error) {
        reject(error)
      }
    })
  })
}

function headerRecord(headers: HeadersInit | undefined): Record<string, string> {
  if (!headers) return {}
  if (headers instanceof Headers) return Object.fromEntries(headers)
  if (Array.isArray(headers)) return Object.fromEntries(headers)
  return headers as Record<string, string>
}
