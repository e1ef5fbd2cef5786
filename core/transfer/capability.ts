import { createError } from '../errors.ts'
import { fromHex, toHex } from '../protocol/digest.ts'

/**
 * Capabilities for private tasks. A private task has a random key (32 bytes,
 * hex) that only its supernode(s) and the peers it admitted (after their
 * credentials passed the source) ever learn. A capability is
 * `<holder>.<expiry seconds>.<HMAC-SHA256(key, taskId|holder|expiry)>`: it
 * rides with every piece request in CAPABILITY_HEADER, and every piece server
 * holding the key checks it. Checks are cached per token, so a piece costs a
 * map lookup once a requester's token was checked.
 */

/** The request header a capability rides in. */
export const CAPABILITY_HEADER = 'x-dragonfly-capability'

/** How long a capability is good for; sync answers hand out fresh ones long before. */
export const CAPABILITY_TTL_MS = 10 * 60_000

const TOKEN_RE = /^([A-Za-z0-9-]{1,64})\.(\d{1,12})\.([0-9a-f]{64})$/
const KEY_RE = /^[0-9a-f]{64}$/
/** Checked tokens (and issued ones) remembered per task; past this, expired ones are dropped (and all, if none expired). */
const MAX_VERDICTS = 4096

/** A new random task key. */
export function createTaskKey(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)))
}

export function isTaskKey(value: unknown): value is string {
  return typeof value === 'string' && KEY_RE.test(value)
}

function importKey(key: string, usage: 'sign' | 'verify'): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', fromHex(key), { name: 'HMAC', hash: 'SHA-256' }, false, [usage])
}

const message = (taskId: string, holder: string, expiry: string) => new TextEncoder().encode(`${taskId}|${holder}|${expiry}`)

/**
 * Issues and checks the capabilities of one private task. Held by the
 * supernode (which issues them at registration and in sync answers) and by
 * every admitted peer (which checks them on its piece server and may issue
 * its own, e.g. a supernode replicating the task).
 */
export class CapabilityGate {
  private signer?: Promise<CryptoKey>
  private verifier?: Promise<CryptoKey>
  private readonly verdicts = new Map<string, number>()
  private readonly own = new Map<string, { token: Promise<string>; renewAt: number }>()

  constructor(
    readonly taskId: string,
    readonly key: string,
  ) {
    if (!KEY_RE.test(key)) throw createError('E_BAD_REQUEST', 'a task key is 64 lower-case hex characters')
  }

  /** A capability for `holder` (a peer id, or a supernode's id) good until now + ttlMs. */
  async issue(holder: string, now = Date.now(), ttlMs = CAPABILITY_TTL_MS): Promise<string> {
    this.signer ??= importKey(this.key, 'sign')
    const expiry = String(Math.ceil((now + ttlMs) / 1000))
    const mac = await crypto.subtle.sign('HMAC', await this.signer, message(this.taskId, holder, expiry))
    return `${holder}.${expiry}.${toHex(new Uint8Array(mac))}`
  }

  /** A capability for `holder` to send with its own requests: issued once, renewed when half its life is gone. */
  current(holder: string, now = Date.now()): Promise<string> {
    const held = this.own.get(holder)
    if (held && held.renewAt > now) return held.token
    const token = this.issue(holder, now)
    // Peers come and go: past the bound, the tokens due for renewal are dropped (all of them if none is).
    if (this.own.size >= MAX_VERDICTS) {
      for (const [h, t] of this.own) if (t.renewAt <= now) this.own.delete(h)
      if (this.own.size >= MAX_VERDICTS) this.own.clear()
    }
    this.own.set(holder, { token, renewAt: now + CAPABILITY_TTL_MS / 2 })
    return token
  }

  /** Whether `token` is a capability for this task, unexpired at `now`. */
  async verify(token: string | undefined | null, now = Date.now()): Promise<boolean> {
    if (!token) return false
    const known = this.verdicts.get(token)
    if (known !== undefined) return known > now
    const match = TOKEN_RE.exec(token)
    if (!match) return false
    const [, holder, expiry, mac] = match as unknown as [string, string, string, string]
    const until = Number(expiry) * 1000
    if (until <= now) return false
    this.verifier ??= importKey(this.key, 'verify')
    const ok = await crypto.subtle.verify('HMAC', await this.verifier, fromHex(mac), message(this.taskId, holder, expiry))
    // Only good tokens are remembered: a flood of forged ones cannot push them out.
    if (ok) this.remember(token, until, now)
    return ok
  }

  /** Throws E_FORBIDDEN unless `token` is a good capability for this task. */
  async check(token: string | undefined | null): Promise<void> {
    if (await this.verify(token)) return
    throw createError(
      'E_FORBIDDEN',
      token
        ? `the capability for task ${this.taskId} is not valid (forged, for another task, or expired)`
        : `task ${this.taskId} is private: its pieces are served only with a capability (${CAPABILITY_HEADER}) from the supernode`,
    )
  }

  private remember(token: string, until: number, now: number): void {
    if (this.verdicts.size >= MAX_VERDICTS) {
      for (const [t, u] of this.verdicts) if (u <= now) this.verdicts.delete(t)
      if (this.verdicts.size >= MAX_VERDICTS) this.verdicts.clear()
    }
    this.verdicts.set(token, until)
  }
}

/** The header carrying a task's capability, or none when there is none (a public task). */
export function capabilityHeader(token: string | undefined): Record<string, string> {
  return token ? { [CAPABILITY_HEADER]: token } : {}
}

/** The header carrying `holder`'s capability for a private task (`gate`), or none for a public one. */
export async function capabilityHeaders(gate: CapabilityGate | undefined, holder: string): Promise<Record<string, string>> {
  return gate ? { [CAPABILITY_HEADER]: await gate.current(holder) } : {}
}
