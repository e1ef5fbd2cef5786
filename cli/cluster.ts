import type { ClusterStore } from '../core/contract/cluster-store.ts'
import type { PluginSet } from '../core/contract/plugin.ts'
import { createError } from '../core/errors.ts'

/** Connects the `--cluster` URL with the plugin that handles its protocol; redis:// works without configuring one. */
export async function connectCluster(plugins: PluginSet, url: string): Promise<ClusterStore> {
  let protocol: string
  try {
    protocol = new URL(url).protocol
  } catch {
    throw createError('E_CONFIG', `--cluster must be a URL like redis://host:6379, got ${JSON.stringify(url)}`)
  }
  let backend = plugins.clusters.get(protocol)
  if (!backend && (protocol === 'redis:' || protocol === 'rediss:')) {
    const { default: clusterRedis } = await import('../plugins/cluster-redis/index.ts')
    backend = clusterRedis().cluster
  }
  if (!backend)
    throw createError('E_CONFIG', `no plugin handles cluster stores of protocol ${protocol} (plugins: ${[...plugins.clusters.keys()].join(', ') || 'none'})`)
  return backend.connect(url)
}

/** The URL this supernode is reached at: the configured one, else its listening address (loopback for a wildcard). */
export function advertiseUrl(configured: string, host: string, port: number): string {
  if (configured) return configured.replace(/\/+$/, '')
  const reachable = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`
}
