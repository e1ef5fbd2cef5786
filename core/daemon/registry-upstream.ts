import { createError, isDragonflyError } from '../errors.ts'

export interface UpstreamOptions {
  /** Default upstream (`--registry-mirror`), e.g. `https://registry-1.docker.io`. */
  mirror?: string
  /** Registry hosts reached over plain http; loopback hosts always are. */
  insecureRegistries?: string[]
}

export interface UpstreamTarget {
  /** Upstream base, e.g. `https://registry.example:5000`. */
  base: string
  /** Everything after `/v2/`, as the upstream names it: `library/foo/blobs/sha256:…`. */
  path: string
  /** The full upstream URL, query kept (minus containerd's `ns`). */
  url: string
}

/** Docker's rule for "this first path segment is a registry host": a dot, a port, or localhost. */
const REGISTRY_HOST_RE = /^(localhost|[a-z0-9-]+(\.[a-z0-9-]+)+|\[[0-9a-f:]+\]|[a-z0-9.-]+:\d{1,5}|\[[0-9a-f:]+\]:\d{1,5})$/i

/**
 * Which registry a `/v2/…` request is for, in order: containerd's `ns=`
 * query parameter, a leading path segment naming a registry (the
 * registries.conf mirror form `mirror.host/registry.example/…`), then the
 * configured `--registry-mirror`. Null when none applies.
 */
export function resolveUpstream(url: URL, options: UpstreamOptions): UpstreamTarget | null {
  const rest = url.pathname.replace(/^\/v2\/?/, '')
  const query = new URLSearchParams(url.search)
  const ns = query.get('ns')
  query.delete('ns')
  const search = query.size > 0 ? `?${query}` : ''
  let base: string | undefined
  let path = rest
  if (ns) {
    base = registryBase(ns, options)
  } else {
    const slash = rest.indexOf('/')
    const first = slash > 0 ? decodeURIComponent(rest.slice(0, slash)) : ''
    if (first && REGISTRY_HOST_RE.test(first) && rest.indexOf('/', slash + 1) > 0) {
      base = registryBase(first, options)
      path = rest.slice(slash + 1)
    } else if (options.mirror) {
      base = options.mirror.replace(/\/+$/, '')
    }
  }
  return base ? { base, path, url: `${base}/v2/${path}${search}` } : null
}

/** `docker.io` is served by registry-1.docker.io; loopback and listed hosts speak http. */
export function registryBase(host: string, options: UpstreamOptions): string {
  const h = host.toLowerCase()
  if (!/^[a-z0-9.[\]:-]+$/.test(h)) throw createError('E_BAD_REQUEST', `not a registry host: ${JSON.stringify(host)}`)
  if (h === 'docker.io' || h === 'index.docker.io') return 'https://registry-1.docker.io'
  const name = h.replace(/:\d+$/, '')
  const insecure =
    name === 'localhost' ||
    /^127\./.test(name) ||
    name === '[::1]' ||
    (options.insecureRegistries ?? []).some((r) => r.toLowerCase() === h || r.toLowerCase() === name)
  return `${insecure ? 'http' : 'https'}://${h}`
}

export interface BlobProbe {
  status: number
  headers: Headers
}

/**
 * Asks the upstream, with the client's own credentials, whether this client
 * may read a blob (HEAD, redirects not followed: a 3xx means yes). Answers
 * are shared by concurrent callers and kept briefly per URL and credential,
 * so a pull of many layers asks once per layer, not once per request.
 */
export function createBlobProber(connect: typeof fetch = fetch, ttlMs = 30_000, max = 1024) {
  const cache = new Map<string, { at: number; answer: Promise<BlobProbe> }>()
  return (url: string, headers: Headers, signal?: AbortSignal): Promise<BlobProbe> => {
    const key = `${url}\n${headers.get('authorization') ?? ''}`
    const now = Date.now()
    const hit = cache.get(key)
    if (hit && now - hit.at < ttlMs) return hit.answer
    const head = () => connect(url, { method: 'HEAD', headers, redirect: 'manual', signal })
    // A HEAD is safe to send again: once, for a connection the upstream closed as it was reused (a reset, a hang-up).
    const answer = head()
      .catch((error: unknown) => (signal?.aborted || [error, (error as Error)?.cause].some(isDragonflyError) ? Promise.reject(error) : head()))
      .then(
        (r) => ({ status: r.status, headers: r.headers }),
        (error: unknown) => {
          cache.delete(key)
          const refusal = [error, (error as Error)?.cause].find(isDragonflyError)
          if (refusal) throw refusal
          const why = ((error as Error)?.cause as Error | undefined)?.message ?? (error as Error)?.message ?? String(error)
          throw createError('E_SOURCE_UNREACHABLE', `cannot reach ${new URL(url).host}: ${why}`, { cause: error })
        },
      )
    // Only grants are remembered: a refusal is re-asked so a fresh token works at once.
    answer.then(
      (a) => a.status >= 400 && cache.delete(key),
      () => {},
    )
    if (cache.size >= max) cache.delete(cache.keys().next().value as string)
    cache.set(key, { at: now, answer })
    return answer
  }
}
