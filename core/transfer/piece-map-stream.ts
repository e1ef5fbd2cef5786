/**
 * The piece map as a stream (`GET /pieces/:taskId?after=N&wait=MS&stream=1`):
 * one answer carries every change for up to `wait` ms, one NDJSON line
 * (`{"count":C,"have":"<base64>"}`) per change, at most one line per
 * LINE_SPACING_MS. It replaces a long-poll per change: measured in bench:swarm
 * (8 peers, 32 MiB, 20 Mbit links), each child asked each parent ~5 times a
 * second and those requests were 9-10 % of a get's CPU. BitTorrent's HAVE
 * messages play the same part on its one connection per pair of peers.
 *
 * A line is the whole map (a task has ~256-2,000 pieces: a few hundred bytes
 * of base64), so a reader that missed one loses nothing. The stream ends when
 * the map is full, when `wait` runs out, or when the caller goes away.
 */
import { sleep } from '../sleep.ts'

/** What the stream reads from the task it serves. */
export interface MapSource {
  pieceCount: number
  held(): { count: number; toBase64(): string }
  /** Resolves at the next verified piece, or once `signal` aborts. */
  changed(signal: AbortSignal): Promise<void>
}

/** The stream's media type: one JSON object per line. */
export const NDJSON = 'application/x-ndjson'

/** Least time between two lines of one stream: changes in between go out together. */
export const LINE_SPACING_MS = 250

export function pieceMapStream(source: MapSource, after: number, waitMs: number, requestSignal: AbortSignal): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  // One controller for the deadline, the caller's disconnect and a cancel by the transport.
  const stop = new AbortController()
  const end = (): void => stop.abort()
  const deadline = setTimeout(end, waitMs)
  requestSignal.addEventListener('abort', end, { once: true })
  const cleanup = (): void => {
    clearTimeout(deadline)
    requestSignal.removeEventListener('abort', end)
  }
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      let sent = after
      let lastLine = 0
      try {
        while (!stop.signal.aborted) {
          const held = source.held()
          if (held.count > sent) {
            controller.enqueue(encoder.encode(`${JSON.stringify({ count: held.count, have: held.toBase64() })}\n`))
            sent = held.count
            lastLine = Date.now()
            if (held.count >= source.pieceCount) break
          }
          await source.changed(stop.signal)
          const gap = LINE_SPACING_MS - (Date.now() - lastLine)
          if (gap > 0) await sleep(gap, stop.signal)
        }
        controller.close()
      } catch (error) {
        controller.error(error)
      } finally {
        cleanup()
      }
    },
    cancel() {
      end()
    },
  })
}
