import { createError, isDragonflyError } from '../errors.ts'
import { HOST_NAME_RE, type RegisterBody, type RegisterResponse } from '../protocol/api-schema.ts'
import { CapabilityGate, isTaskKey } from '../transfer/capability.ts'
import type { LocalTask, TaskAccess } from './peer-tasks.ts'
import type { SupernodeClient } from './supernode-client.ts'

/** What a supernode is told about this peer when it registers for a task. */
export interface PeerAnnouncement {
  /** Its piece server. */
  address: string
  location?: string
  hostname?: string
  slots?: number
}

/**
 * Registers a download with the supernode at `base`, saying what the peer
 * already holds of the task. A supernode whose cache disk is full cannot
 * serve the task, but the next one (or the source) can: that is
 * E_NO_SUPERNODE, not the download's end.
 */
export function registerDownload(
  client: Pick<SupernodeClient, 'register'>,
  base: string,
  task: Omit<RegisterBody, 'peer'>,
  peer: PeerAnnouncement,
  previous?: LocalTask,
): Promise<RegisterResponse> {
  const { hostname, ...rest } = peer
  const announced = {
    ...rest,
    // A name the supernode would refuse must not cost the download: it is only shown to people.
    ...(hostname && HOST_NAME_RE.test(hostname) ? { hostname } : {}),
    have: previous?.have.toBase64(),
  }
  return client.register(base, { ...task, peer: announced }).catch((error: unknown) => {
    if (isDragonflyError(error) && error.code === 'E_NO_SPACE') throw createError('E_NO_SUPERNODE', `supernode ${base}: ${error.message}`, { cause: error })
    throw error
  })
}

/** Who may have a task's pieces, as its registration says: a private task's key checks capabilities (kept when unchanged). */
export function accessOf(taskId: string, registration: RegisterResponse, previous?: LocalTask): TaskAccess {
  const key = registration.capabilityKey
  if (!isTaskKey(key)) return {}
  const gate = previous?.gate?.key === key ? previous.gate : new CapabilityGate(taskId, key)
  return { gate, ...(typeof registration.capability === 'string' ? { capability: registration.capability } : {}) }
}

/**
 * Tells each supernode a download registered with that it went to the source
 * (`dragonfly_back_to_source_total`), as the peer it registered as; best
 * effort. Supernodes it never registered with would not believe it.
 */
export async function reportBackToSource(
  client: Pick<SupernodeClient, 'reportBackToSource'>,
  registrations: ReadonlyMap<string, RegisterResponse>,
  url: string,
  bytes: number,
): Promise<void> {
  await Promise.allSettled(
    [...registrations].map(([base, r]) => client.reportBackToSource(base, { url, bytes, taskId: r.taskId, peerId: r.peerId }, r.peerSecret)),
  )
}
