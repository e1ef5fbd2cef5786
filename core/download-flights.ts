import type { DownloadRequest, DownloadResult, Peer } from './peer-engine.ts'

export interface Flight {
  taskId: string
  url: string
  startedAt: number
  /** Resolves once the whole content is verified and stored. */
  done: Promise<DownloadResult>
  result?: DownloadResult
}

/**
 * Single-flight over the daemon's peer: every request for the same task id
 * (the same URL, digest and tag, whoever asks) joins one download; a finished
 * one is served from the cache as long as its content is stored. A failed
 * flight is forgotten, so the next request tries again.
 */
export class DownloadFlights {
  readonly flights = new Map<string, Flight>()
  private readonly aborter = new AbortController()

  constructor(private readonly peer: Peer) {}

  async start(request: Omit<DownloadRequest, 'signal'>): Promise<Flight> {
    const taskId = await this.peer.taskIdOf(request)
    const existing = this.flights.get(taskId)
    if (existing && (!existing.result || this.peer.tasks.get(taskId)?.have.complete)) return existing
    // One reader going away must not stop a download others share: only closing the daemon aborts it.
    const flight: Flight = { taskId, url: request.url, startedAt: Date.now(), done: this.peer.download({ ...request, signal: this.aborter.signal }) }
    flight.done.then(
      (result) => void (flight.result = result),
      () => void (this.flights.get(taskId) === flight && this.flights.delete(taskId)),
    )
    this.flights.set(taskId, flight)
    return flight
  }

  get(taskId: string): Flight | undefined {
    return this.flights.get(taskId)
  }

  close(): void {
    this.aborter.abort()
  }
}
