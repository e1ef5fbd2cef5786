import { sameText } from '../contract/same-text.ts'
import { createError } from '../errors.ts'
import { toHex } from '../protocol/digest.ts'
import { PEER_SECRET_HEADER } from '../protocol/peer-secret.ts'
import type { PeerState } from './scheduler/swarm-types.ts'

/** What the supernode knows of a peer registered here beyond what it publishes. */
interface Registration {
  secret: string
  /** The peer said it went to the source for this task: once per registration, so one peer cannot pump the counters. */
  wentToSource: boolean
}

/** The peers of one task's swarm, as `speaker` reads them. */
export interface PeerLookup {
  readonly taskId: string
  readonly peers: ReadonlyMap<string, PeerState>
}

/**
 * The secrets of the peers registered with this supernode. Held beside the
 * swarm's state, keyed by the peer's state object, so a secret lives exactly
 * as long as its registration and is never in anything that is listed,
 * mirrored to the cluster or shown. Peers another supernode of the cluster
 * registered have none here: they speak to their own supernode only.
 */
export class PeerSecrets {
  private readonly registrations = new WeakMap<PeerState, Registration>()

  /** A new secret for a peer just registered here (the registration answer carries it, nothing else does). */
  issue(peer: PeerState): string {
    const secret = toHex(crypto.getRandomValues(new Uint8Array(32)))
    this.registrations.set(peer, { secret, wentToSource: false })
    return secret
  }

  /**
   * The registered peer `peerId` of `swarm`, when the request carries its
   * secret: E_UNKNOWN_PEER for an id not registered here, E_FORBIDDEN for a
   * missing or wrong secret.
   */
  speaker(swarm: PeerLookup, peerId: string, request: Request): PeerState {
    const peer = swarm.peers.get(peerId)
    const registration = peer && this.registrations.get(peer)
    if (!peer || !registration) throw createError('E_UNKNOWN_PEER', `peer ${peerId} is not registered with this supernode for task ${swarm.taskId}`)
    const given = request.headers.get(PEER_SECRET_HEADER)
    if (given === null || !sameText(given, registration.secret))
      throw createError('E_FORBIDDEN', `requests for peer ${peerId} must carry the ${PEER_SECRET_HEADER} its registration was answered with`)
    return peer
  }

  /** Records a peer's back-to-source report; false when this registration already sent one. */
  wentToSource(peer: PeerState): boolean {
    const registration = this.registrations.get(peer)
    if (!registration || registration.wentToSource) return false
    registration.wentToSource = true
    return true
  }
}
