import { createError } from '../errors.ts'

/** An image reference split into the registry's base URL, the repository and a tag or digest. */
export interface ImageRef {
  registry: string
  name: string
  reference: string
}

export interface ImageLayer {
  digest: string
  size: number
  mediaType: string
  /** `<registry>/v2/<name>/blobs/<digest>`, the URL a daemon would fetch. */
  url: string
}

export interface ResolveImageOptions {
  /** `os/arch[/variant]`. @default 'linux/amd64' */
  platform?: string
  /** Sent to the token service (e.g. Basic credentials), never to another host. */
  authorization?: string
  fetch?: typeof fetch
}

export interface ResolvedImage {
  ref: ImageRef
  /** Digest of the platform manifest the layers come from. */
  manifestDigest: string
  layers: ImageLayer[]
  /** `Authorization` value the registry accepted, to hand on to blob fetches. */
  authorization?: string
}

const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']
const MANIFEST_TYPES = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']
export const MANIFEST_ACCEPT = [...INDEX_TYPES, ...MANIFEST_TYPES].join(', ')

/** `host[:port]/name[:tag|@digest]`; `http://` or `https://` may lead. Loopback hosts default to http. */
export function parseImageRef(input: string): ImageRef {
  const scheme = /^(https?):\/\//.exec(input)?.[1]
  const rest = scheme ? input.slice(scheme.length + 3) : input
  const slash = rest.indexOf('/')
  const host = slash > 0 ? rest.slice(0, slash) : ''
  if (!host || !/^[a-zA-Z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) {
    throw createError('E_BAD_ARGUMENT', `image must be <registry>/<name>:<tag>, got ${JSON.stringify(input)}`)
  }
  const path = rest.slice(slash + 1)
  const at = path.indexOf('@')
  const colon = path.lastIndexOf(':')
  const [name, reference] =
    at >= 0 ? [path.slice(0, at), path.slice(at + 1)] : colon > path.lastIndexOf('/') ? [path.slice(0, colon), path.slice(colon + 1)] : [path, 'latest']
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/.test(name) || !/^[\w][\w.-]{0,127}$|^sha256:[0-9a-f]{64}$/.test(reference)) {
    throw createError('E_BAD_ARGUMENT', `image must be <registry>/<name>:<tag>, got ${JSON.stringify(input)}`)
  }
  const loopback = /^(localhost|127\.[\d.]+|\[::1\])(:\d+)?$/.test(host)
  return { registry: `${scheme ?? (loopback ? 'http' : 'https')}://${host}`, name, reference }
}

export function blobUrl(ref: Pick<ImageRef, 'registry' | 'name'>, digest: string): string {
  return `${ref.registry}/v2/${ref.name}/blobs/${digest}`
}

/** Resolves a tag or digest to the layers of one platform's manifest (following an index). */
export async function resolveImage(ref: ImageRef, options: ResolveImageOptions = {}): Promise<ResolvedImage> {
  const client = createRegistryFetch(options)
  const [os, architecture, variant] = (options.platform ?? 'linux/amd64').split('/')
  let manifest = await fetchManifest(client, `${ref.registry}/v2/${ref.name}/manifests/${ref.reference}`)
  if (manifest.index) {
    const entries = (manifest.body.manifests ?? []) as { digest: string; platform?: { os?: string; architecture?: string; variant?: string } }[]
    const chosen = entries.find((m) => m.platform?.os === os && m.platform?.architecture === architecture && (!variant || m.platform?.variant === variant))
    if (!chosen) {
      const offered = entries.map((m) => [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/')).join(', ')
      throw createError('E_NOT_FOUND', `${ref.name}:${ref.reference} has no ${options.platform ?? 'linux/amd64'} image (has ${offered || 'none'})`)
    }
    manifest = await fetchManifest(client, `${ref.registry}/v2/${ref.name}/manifests/${chosen.digest}`)
  }
  const layers = (manifest.body.layers ?? []) as { digest: string; size: number; mediaType: string }[]
  return {
    ref,
    manifestDigest: manifest.digest,
    layers: layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, url: blobUrl(ref, l.digest) })),
    ...(client.authorization() ? { authorization: client.authorization() } : {}),
  }
}

/** Fetches the layers of a (non-index) manifest at `url`, as a registry notification names it. */
export async function manifestLayers(url: string, options: ResolveImageOptions = {}): Promise<{ layers: ImageLayer[]; authorization?: string }> {
  const client = createRegistryFetch(options)
  const manifest = await fetchManifest(client, url)
  if (manifest.index) return { layers: [] }
  const base = url.replace(/\/manifests\/[^/]+$/, '')
  const layers = (manifest.body.layers ?? []) as { digest: string; size: number; mediaType: string }[]
  const auth = client.authorization()
  return {
    layers: layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, url: `${base}/blobs/${l.digest}` })),
    ...(auth ? { authorization: auth } : {}),
  }
}

async function fetchManifest(client: RegistryFetch, url: string) {
  const res = await client.get(url, { accept: MANIFEST_ACCEPT })
  if (res.status === 404) throw createError('E_NOT_FOUND', `registry has no manifest at ${url}`)
  if (res.status === 401) throw createError('E_UNAUTHORIZED', `registry refused ${url} (401)`)
  if (res.status === 403) throw createError('E_FORBIDDEN', `registry refused ${url} (403)`)
  if (!res.ok) throw createError('E_SOURCE_STATUS', `registry answered ${res.status} for ${url}`, { details: { status: res.status } })
  const body = (await res.json().catch(() => null)) as Record<string, unknown> | null
  if (!body || typeof body !== 'object') throw createError('E_SOURCE_STATUS', `registry sent no JSON manifest at ${url}`)
  const type = String(body.mediaType ?? res.headers.get('content-type') ?? '')
    .split(';')[0]!
    .trim()
  return {
    body,
    index: INDEX_TYPES.includes(type) || (!MANIFEST_TYPES.includes(type) && Array.isArray(body.manifests)),
    digest: res.headers.get('docker-content-digest') ?? url.slice(url.lastIndexOf('/') + 1),
  }
}

interface RegistryFetch {
  get(url: string, headers: Record<string, string>): Promise<Response>
  authorization(): string | undefined
}

/** GETs that answer a `Bearer` challenge once: fetch a token from the realm, retry with it. */
function createRegistryFetch(options: ResolveImageOptions): RegistryFetch {
  const doFetch = options.fetch ?? fetch
  let token: string | undefined
  const send = (url: string, headers: Record<string, string>) =>
    doFetch(url, { headers: { ...headers, ...(token ? { authorization: token } : {}) } }).catch((cause) => {
      throw createError('E_SOURCE_UNREACHABLE', `cannot reach registry at ${url}: ${(cause as Error).message}`, { cause })
    })
  return {
    authorization: () => token,
    async get(url, headers) {
      const res = await send(url, headers)
      if (res.status !== 401 || token) return res
      const challenge = parseBearerChallenge(res.headers.get('www-authenticate') ?? '')
      if (!challenge) return res
      await res.body?.cancel().catch(() => {})
      token = `Bearer ${await fetchToken(doFetch, challenge, options.authorization)}`
      return send(url, headers)
    },
  }
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters; null for other schemes. */
export function parseBearerChallenge(header: string): Record<string, string> | null {
  const m = /^\s*Bearer\s+(.*)$/i.exec(header)
  if (!m) return null
  const params: Record<string, string> = {}
  for (const p of m[1]!.matchAll(/([a-zA-Z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g))
    params[p[1]!.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1')
  return params.realm ? params : null
}

async function fetchToken(doFetch: typeof fetch, challenge: Record<string, string>, authorization?: string): Promise<string> {
  const url = new URL(challenge.realm!)
  for (const key of ['service', 'scope']) if (challenge[key]) url.searchParams.set(key, challenge[key]!)
  const res = await doFetch(url, { headers: authorization ? { authorization } : {} }).catch((cause) => {
    throw createError('E_SOURCE_UNREACHABLE', `cannot reach token service ${url.origin}: ${(cause as Error).message}`, { cause })
  })
  if (res.status === 401 || res.status === 403) throw createError('E_UNAUTHORIZED', `token service ${url.origin} refused the credentials (${res.status})`)
  const body = (await res.json().catch(() => null)) as { token?: string; access_token?: string } | null
  const token = body?.token ?? body?.access_token
  if (!res.ok || !token) throw createError('E_UNAUTHORIZED', `token service ${url.origin} gave no token (${res.status})`)
  return token
}
