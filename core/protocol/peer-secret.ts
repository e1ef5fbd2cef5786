/**
 * A peer's proof that it is the peer a request speaks for. Peer ids are
 * public (task details, parent lists, the dashboard), so an id alone proves
 * nothing: the supernode answers each registration with a random secret that
 * it never lists anywhere, and every later request that speaks for that peer
 * (sync, pull, leave, back-to-source reports) carries it in this header.
 */
export const PEER_SECRET_HEADER = 'x-dragonfly-peer-secret'

/** A peer secret: 32 random bytes, hex. */
export const PEER_SECRET_RE = /^[0-9a-f]{64}$/

/** The header that proves who a request speaks for, when the peer holds a secret. */
export function peerSecretHeader(secret: string | undefined): Record<string, string> {
  return secret ? { [PEER_SECRET_HEADER]: secret } : {}
}
