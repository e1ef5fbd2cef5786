import type { ServeBindings } from '../contract/serve.ts'
import { type DragonflyError, toDragonflyError } from '../errors.ts'
import type { Peer } from '../peer/peer.ts'
import type { SourceGuard } from '../source/source-guard.ts'
import { contentResponse, openContentStream } from './content-stream.ts'
import type { DownloadFlights } from './download-flights.ts'
import { endToEndHeaders, forwardRequest } from './http-forward.ts'
import { createBlobProber, resolveUpstream, type UpstreamOptions } from './registry-upstream.ts'

export interface RegistryMirrorOptions extends UpstreamOptions {
  peer: Peer
  flights: DownloadFlights
  /** Every upstream request goes through it (the `?ns=` and path forms name any host). */
  guard: SourceGuard
}

/** OCI digest grammar (algorithm:encoded); sha256 must also have 64 lower-case hex characters. */
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/
const BLOB_RE = /^(.+)\/blobs\/([^/]+)$/

/** A registry-style error body: `{"errors":[{"code","message","detail"}]}`. */
export function registryError(status: number, code: string, message: string, detail?: unknown): Response {
  return Response.json(
    { errors: [{ code, message, ...(detail === undefined ? {} : { detail }) }] },
    { status, headers: { 'docker-distribution-api-version': 'registry/2.0' } },
  )
}

/**
 * The registry mirror (OCI distribution API, pull side). `/v2/` answers
 * itself; manifests, tags and everything else pass through to the upstream
 * with the client's headers (so `Authorization` and 401 challenges travel
 * unchanged). A blob GET becomes a P2P task verified against the digest in
 * its URL, streamed to the client as pieces arrive.
 */
export function createRegistryMirror(options: RegistryMirrorOptions): (request: Request, bindings?: ServeBindings) => Promise<Response> {
  const connect = options.guard.fetch
  const probe = createBlobProber(connect)

  const serveBlob = async (request: Request, url: string, digest: string, bindings?: ServeBindings): Promise<Response> => {
    const headers = endToEndHeaders(request.headers)
    headers.delete('range')
    headers.set('accept-encoding', 'identity')
    // The upstream decides, per credential, whether this client may have the blob; a refusal (401 with its
    // challenge, 403, 404) reaches the client as the upstream wrote it.
    const granted = await probe(url, headers, request.signal)
    if (granted.status >= 400) return forwardRequest(request, url, connect)
    const authorization = request.headers.get('authorization')
    const flight = await options.flights.start({ url, digest, headers: authorization ? { authorization } : {} })
    const stream = await openContentStream({ peer: options.peer, taskId: flight.taskId, done: flight.done, range: request.headers.get('range') })
    return contentResponse(
      stream,
      request.method,
      { 'docker-content-digest': digest, etag: `"${digest}"`, 'docker-distribution-api-version': 'registry/2.0' },
      bindings,
    )
  }

  return async (request, bindings) => {
    const url = new URL(request.url)
    if (/^\/v2\/?$/.test(url.pathname) && !url.searchParams.has('ns')) {
      return Response.json({}, { headers: { 'docker-distribution-api-version': 'registry/2.0' } })
    }
    try {
      const target = resolveUpstream(url, options)
      if (!target) return registryError(404, 'NAME_UNKNOWN', 'no upstream registry: pass --registry-mirror, ?ns=<registry> or /v2/<registry>/<name>/…')
      const blob = BLOB_RE.exec(target.path)
      if (blob) {
        const digest = decodeURIComponent(blob[2]!)
        if (!DIGEST_RE.test(digest) || (digest.startsWith('sha256:') && !/^sha256:[0-9a-f]{64}$/.test(digest))) {
          return registryError(400, 'DIGEST_INVALID', `invalid digest ${JSON.stringify(digest)}`)
        }
        if (request.method === 'GET' && digest.startsWith('sha256:')) return await serveBlob(request, target.url, digest, bindings)
      }
      return await forwardRequest(request, target.url, connect)
    } catch (error) {
      return toRegistryError(toDragonflyError(error))
    }
  }
}

/** Maps a Dragonfly error to the registry error a client understands; the Dragonfly code rides in `detail`. */
export function toRegistryError(error: DragonflyError): Response {
  const detail = { dragonfly: error.code }
  const upstream = typeof error.details?.status === 'number' ? error.details.status : undefined
  switch (error.code) {
    case 'E_DIGEST_MISMATCH':
      return registryError(502, 'DIGEST_INVALID', `upstream content does not match its digest: ${error.message}`, detail)
    case 'E_BAD_ARGUMENT':
      return registryError(400, 'DIGEST_INVALID', error.message, detail)
    case 'E_BAD_REQUEST':
      if (upstream === 416) {
        const response = registryError(416, 'RANGE_INVALID', error.message, detail)
        response.headers.set('content-range', `bytes */${error.details?.contentLength}`)
        return response
      }
      return registryError(400, 'UNSUPPORTED', error.message, detail)
    case 'E_SOURCE_UNREACHABLE':
    case 'E_SOURCE_TRUNCATED':
    case 'E_SOURCE_TOO_LONG':
      return registryError(502, 'UNAVAILABLE', error.message, detail)
    case 'E_FORBIDDEN':
      return registryError(403, 'DENIED', error.message, detail)
    case 'E_NO_SUPERNODE':
      return registryError(503, 'UNAVAILABLE', error.message, detail)
    case 'E_SOURCE_STATUS':
      if (upstream === 401) return registryError(401, 'UNAUTHORIZED', error.message, detail)
      if (upstream === 403) return registryError(403, 'DENIED', error.message, detail)
      if (upstream === 404) return registryError(404, 'BLOB_UNKNOWN', error.message, detail)
      return registryError(502, 'UNAVAILABLE', error.message, detail)
    default:
      return registryError(error.status >= 400 && error.status < 600 ? error.status : 500, 'UNKNOWN', error.message, detail)
  }
}
