import { type CacheGcOptions, collectGarbage, type GcCandidate, type GcResult } from '../cache/cache-gc.ts'
import { createError } from '../errors.ts'
import type { DownloadRequest, DownloadResult } from '../peer/download-types.ts'
import type { Peer } from '../peer/peer.ts'
import { credentialHash, credentialHeaders, type SourceAccess } from '../source/source-access.ts'
import { passesChecks } from '../transfer/request-check.ts'

export interface Flight {
  taskId: string
  url: string
  startedAt: number
  /** Resolves once the whole content is verified and stored. */
  done: Promise<DownloadResult>
  result?: DownloadResult
  /** Last time a request joined or read this flight (LRU for the cache quota). */
  lastUsed: number
  /** Hash of the credentials the first request came with ('' none): a later caller with others must pass the source. */
  credential: string
}

/** A finished task read this recently may still be streaming to a client: not evicted. */
const BUSY_MS = 60_000

/**
 * Single-flight over the daemon's peer: every request for the same task id
 * (the same URL, digest and tag, whoever asks) joins one download; a finished
 * one is served from the cache as long as its content is stored. A failed
 * flight is forgotten, so the next request tries again.
 */
export class DownloadFlights {
  readonly flights = new Map<string, Flight>()
  private readonly aborter = new AbortController()

  constructor(
    private readonly peer: Peer,
    /** Told when a download ends (metrics). */
    private readonly events: { finished?(result: DownloadResult): void; failed?(): void } = {},
    /** Private content: checks a joining caller's credentials against the source (once per credential). */
    private readonly access?: SourceAccess,
  ) {}

  /**
   * The flight for this request: the running or cached one of its task, or a
   * new download. A task first asked for with credentials is private: a caller
   * with other credentials (or none) joins it only once the source accepted
   * theirs (E_FORBIDDEN otherwise), as the supernode checks its registrants.
   */
  async start(request: Omit<DownloadRequest, 'signal'>): Promise<Flight> {
    const taskId = await this.peer.taskIdOf(request)
    const credential = await credentialHash(request.headers)
    const existing = this.flights.get(taskId)
    if (existing && (!existing.result || this.peer.tasks.get(taskId)?.have.complete)) {
      if (existing.credential !== '' && credential !== existing.credential) {
        if (!this.access) throw createError('E_FORBIDDEN', `${request.url} is private content and this daemon cannot check credentials`)
        await this.access.admit({ taskId, credential: existing.credential }, request)
      }
      existing.lastUsed = Date.now()
      return existing
    }
    // One reader going away must not stop a download others share: only closing the daemon aborts it.
    const flight: Flight = {
      taskId,
      url: request.url,
      startedAt: Date.now(),
      lastUsed: Date.now(),
      credential,
      done: this.peer.download({ ...request, signal: this.aborter.signal }),
    }
    flight.done.then(
      (result) => {
        flight.result = result
        this.events.finished?.(result)
      },
      () => {
        if (this.flights.get(taskId) === flight) this.flights.delete(taskId)
        this.events.failed?.()
      },
    )
    this.flights.set(taskId, flight)
    return flight
  }

  /**
   * Keeps the daemon's cache under its quota: least recently used finished
   * tasks leave the swarm and their bytes are removed, between watermarks.
   */
  async collect(options: CacheGcOptions): Promise<GcResult | null> {
    const { storage } = this.peer.options
    if (options.quotaBytes <= 0 || !storage.usage) return null
    const now = Date.now()
    const candidates: GcCandidate[] = []
    for (const key of await storage.listKeys()) {
      const flight = this.flights.get(key)
      if (flight && (!flight.result || now - flight.lastUsed < BUSY_MS)) continue
      const task = this.peer.tasks.get(key)
      candidates.push({ key, bytes: task?.layout.contentLength ?? 0, lastUsed: flight?.lastUsed ?? 0 })
    }
    return collectGarbage(storage, candidates, await storage.usage(), options, async (key) => {
      this.flights.delete(key)
      await this.peer.discard(key)
    })
  }

  /**
   * Which flights a local caller may learn exist (their task id and URL):
   * anyone a public one; a private one an admin (the request passes the
   * configured request checks: the auth-header token), or a caller whose own
   * credentials are the first caller's or pass the source, checked as `start`
   * checks a joining caller. The supernode's listings follow the same rule.
   * The caller's admin check and credentials are read once, however many
   * flights are asked about.
   */
  viewer(caller: Request): (flight: Flight) => Promise<boolean> {
    let admin: Promise<boolean> | undefined
    const headers = credentialHeaders(caller.headers)
    const hasCredentials = Object.keys(headers).length > 0
    return async (flight) => {
      if (flight.credential === '') return true
      admin ??= passesChecks(this.peer.options.plugins.hooks, caller)
      if (await admin) return true
      if (!this.access || !hasCredentials) return false
      return this.access.admit({ taskId: flight.taskId, credential: flight.credential }, { url: flight.url, headers }).then(
        () => true,
        () => false,
      )
    }
  }

  get(taskId: string): Flight | undefined {
    return this.flights.get(taskId)
  }

  close(): void {
    this.aborter.abort()
  }
}
