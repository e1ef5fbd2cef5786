import { createError } from '../errors.ts'

/**
 * The piece server address the swarm hands out for a registrant: the host its
 * registration came from, with the scheme and port it advertised. A peer
 * cannot point others (and the supernode's own checks) at a host it does not
 * speak from. Behind NAT or a proxy the connection's address is not the
 * peer's; `supernode.trustAdvertisedAddress` then keeps the advertised one.
 */
export function peerAddress(advertised: string, remote: string | undefined, trustAdvertised: boolean): string {
  if (trustAdvertised || !remote) return advertised
  let url: URL
  try {
    url = new URL(advertised)
  } catch {
    throw createError('E_BAD_REQUEST', 'peer.address must be http(s)://host:port')
  }
  // An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
  const host = /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(remote) ? remote.slice(7) : remote
  return `${url.protocol}//${host.includes(':') ? `[${host}]` : host}${url.port ? `:${url.port}` : ''}`
}
