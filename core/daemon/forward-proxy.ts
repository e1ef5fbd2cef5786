import type { ServeBindings } from '../contract/serve.ts'
import { toDragonflyError } from '../errors.ts'
import type { Peer } from '../peer/peer.ts'
import { errorBody, toErrorResponse } from '../protocol/error-body.ts'
import { TASK_ID_HEADER } from '../protocol/task-id.ts'
import type { SourceGuard } from '../source/source-guard.ts'
import { contentResponse, openContentStream } from './content-stream.ts'
import type { DownloadFlights } from './download-flights.ts'
import { endToEndHeaders, forwardRequest } from './http-forward.ts'

export interface ForwardProxyOptions {
  peer: Peer
  flights: DownloadFlights
  /** URLs matching any of these go through the swarm. */
  rules: RegExp[]
  /** Every request, P2P or passed on, goes only where it lets it. */
  guard: SourceGuard
}

/** Request headers that are not for the source: conditional and range fields are answered by the daemon. */
const NOT_FOR_SOURCE = ['range', 'if-range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'accept-encoding']

/**
 * The daemon as an HTTP forward proxy (`HTTP_PROXY`) for absolute-form
 * requests: a GET whose URL matches a rule becomes a P2P download, streamed
 * as pieces arrive, with the client's headers as the source headers;
 * anything else is passed on directly. (CONNECT needs raw sockets and is
 * tunnelled by the runtime adapter.)
 */
export function createForwardProxy(options: ForwardProxyOptions): (request: Request, bindings?: ServeBindings) => Promise<Response> {
  return async (request, bindings) => {
    try {
      options.guard(request.url)
      if (request.method === 'GET' && options.rules.some((rule) => rule.test(request.url))) {
        const headers = endToEndHeaders(request.headers)
        for (const name of NOT_FOR_SOURCE) headers.delete(name)
        const flight = await options.flights.start({ url: request.url, headers: Object.fromEntries(headers) })
        const stream = await openContentStream({ peer: options.peer, taskId: flight.taskId, done: flight.done, range: request.headers.get('range') })
        return contentResponse(stream, request.method, { [TASK_ID_HEADER]: flight.taskId }, bindings)
      }
      return await forwardRequest(request, request.url, options.guard.fetch)
    } catch (error) {
      const err = toDragonflyError(error)
      // The source's own refusal (404, 401, …) is what a proxy client expects to see.
      const status = err.details?.status
      if ((err.code === 'E_SOURCE_STATUS' || err.code === 'E_BAD_REQUEST') && typeof status === 'number' && status >= 400 && status < 500) {
        return Response.json(errorBody(err), { status })
      }
      return toErrorResponse(err)
    }
  }
}
