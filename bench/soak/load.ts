import { createHash } from 'node:crypto'
import { Agent, request } from 'node:http'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import type { ContentOrigin } from './content-origin.ts'
import { LatencyHistogram } from './latency-histogram.ts'

/** How a download reaches the daemon: its local API, its registry mirror, or it as an HTTP proxy. */
export type Route = 'api' | 'mirror' | 'proxy'
export const ROUTES: Route[] = ['api', 'mirror', 'proxy']

/** The file name the daemon's proxy rule sends through the swarm. */
export const PROXY_SUFFIX = '.tar.gz'

export interface LoadOptions {
  /** The daemon's API/mirror/proxy port, `http://127.0.0.1:<port>` (started with the origin as its `--registry-mirror`). */
  daemon: string
  origin: ContentOrigin
  /** Contents downloaded again and again (cached after their first download). */
  files: number
  /** Share of downloads (0..1) that ask for a content nobody asked for before. */
  uncached: number
  routes: Route[]
  concurrency: number
  /** Stop after this many downloads... */
  count?: number
  /** ...or after this many seconds. */
  seconds?: number
}

export interface LoadStats {
  done: number
  errors: number
  /** Answers whose body did not hash to the content's digest. */
  wrongBytes: number
  latency: LatencyHistogram
  byRoute: Record<Route, number>
  uncached: number
  firstErrors: string[]
}

export interface Load {
  readonly stats: LoadStats
  /** Resolves when the last download has finished. */
  finished: Promise<LoadStats>
  /** Stops starting downloads once `at` (default: now) have started; resolves once none is in flight (to measure a quiet process). */
  pause(at?: number): Promise<void>
  resume(): void
}

/**
 * Downloads through the daemon, `concurrency` at a time, each checked
 * against the sha256 of what the origin holds. Download i uses route
 * `routes[i % routes.length]`; a fixed share of them asks for fresh content,
 * the rest cycle over `files` contents, so after a first round those come
 * from the daemon's cache.
 */
export function startLoad(options: LoadOptions): Load {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency })
  const daemon = new URL(options.daemon)
  const stats: LoadStats = {
    done: 0,
    errors: 0,
    wrongBytes: 0,
    latency: new LatencyHistogram(),
    byRoute: { api: 0, mirror: 0, proxy: 0 },
    uncached: 0,
    firstErrors: [],
  }
  const deadline = options.seconds ? Date.now() + options.seconds * 1000 : Infinity
  let next = 0
  let inFlight = 0
  let fresh = 0
  let limit = Infinity
  let gate: { open: Promise<void>; release(): void } | undefined
  let drained: (() => void) | undefined

  const more = (): boolean => (options.count === undefined || next < options.count) && Date.now() < deadline

  const one = async (i: number): Promise<void> => {
    const route = options.routes[i % options.routes.length]!
    // Spread the fresh contents evenly: download i is fresh when i * share crosses a whole number.
    const isFresh = Math.floor((i + 1) * options.uncached) > Math.floor(i * options.uncached)
    // Every route cycles over every content (a prime stride, so neighbours differ).
    const n = isFresh ? options.files + fresh++ : (Math.floor(i / options.routes.length) * 7919) % options.files
    if (isFresh) stats.uncached++
    const digest = options.origin.digestOf(n)
    const started = performance.now()
    try {
      const got = await download(route, n, digest)
      stats.latency.add(performance.now() - started)
      stats.byRoute[route]++
      if (got !== digest) {
        stats.wrongBytes++
        note(`${route} #${n}: body is ${got}, expected ${digest}`)
      }
    } catch (error) {
      stats.errors++
      note(`${route} #${n}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  const note = (message: string): void => void (stats.firstErrors.length < 10 && stats.firstErrors.push(message))

  const download = (route: Route, n: number, digest: string): Promise<string> => {
    const target =
      route === 'api'
        ? { method: 'POST', path: DAEMON_ROUTES.download, body: JSON.stringify({ url: options.origin.fileUrl(n) }) }
        : route === 'mirror'
          ? { method: 'GET', path: `/v2/bench/soak/blobs/${digest}` }
          : { method: 'GET', path: options.origin.fileUrl(n, PROXY_SUFFIX) }
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: daemon.hostname,
          port: daemon.port,
          method: target.method,
          path: target.path,
          headers: target.body ? { 'content-type': 'application/json' } : {},
        },
        (res) => {
          const hash = createHash('sha256')
          let text = ''
          res.on('data', (chunk: Buffer) => (res.statusCode === 200 ? hash.update(chunk) : (text += chunk)))
          res.on('end', () =>
            res.statusCode === 200 ? resolve(`sha256:${hash.digest('hex')}`) : reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`)),
          )
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(target.body)
    })
  }

  const worker = async (): Promise<void> => {
    while (more()) {
      if (gate && next >= limit) {
        await gate.open
        continue
      }
      const i = next++
      inFlight++
      await one(i)
      stats.done++
      if (--inFlight === 0 && next >= limit) drained?.()
    }
  }

  const finished = Promise.all(Array.from({ length: options.concurrency }, worker)).then(() => {
    agent.destroy()
    return stats
  })
  return {
    stats,
    finished,
    pause: (at = next) => {
      limit = Math.max(at, next)
      if (!gate) {
        let release = (): void => {}
        const open = new Promise<void>((r) => (release = r))
        gate = { open, release }
      }
      if (inFlight === 0 && next >= limit) return Promise.resolve()
      // Also settles if the run ends first.
      return Promise.race([new Promise<void>((r) => (drained = r)), finished.then(() => {})])
    },
    resume: () => {
      const g = gate
      limit = Infinity
      gate = undefined
      drained = undefined
      g?.release()
    },
  }
}
