/**
 * The one HTTP call on the hot path: GET a piece. Core uses `fetch` (every
 * runtime has it); a runtime adapter may hand in something faster (Node's
 * own http client skips the WHATWG stream layer that `fetch` reads through).
 */
export interface PieceHttpResponse {
  status: number
  header(name: string): string | null
  /** The body, chunk by chunk. */
  chunks: AsyncIterable<Uint8Array>
  /** Drops the rest of the body (and its connection when needed). */
  cancel(): void
}

export interface PieceHttpInit {
  headers?: Record<string, string>
  signal: AbortSignal
  /**
   * Memory the body may be read straight into: a GET that uses it yields
   * chunks that are views of `into` at their place (the body's offset), and
   * the receiver skips its copy. One that ignores it yields its own chunks.
   */
  into?: Uint8Array
}

export type PieceHttpGet = (url: string, init: PieceHttpInit) => Promise<PieceHttpResponse>

const EMPTY: AsyncIterable<Uint8Array> = { async *[Symbol.asyncIterator]() {} }

export const fetchPieceGet: PieceHttpGet = async (url, init) => {
  const response = await fetch(url, init)
  return {
    status: response.status,
    header: (name) => response.headers.get(name),
    chunks: (response.body ?? EMPTY) as AsyncIterable<Uint8Array>,
    cancel: () => void response.body?.cancel().catch(() => {}),
  }
}
