import type { SupernodeClient } from './supernode-client.ts'

/** A swarm this peer is in: where, under which id, and the secret that proves the id is its own. */
interface Membership {
  base: string
  peerId: string
  secret?: string
  /** When the supernode last heard from this peer about this task (registration, a sync of the download). */
  spokeAt: number
}

/** Heartbeat syncs in flight at once. */
const HEARTBEAT_CONCURRENCY = 16
/** A supernode drops a peer it has not heard from for 25 s (peerTtlMs): well within that. */
const HEARTBEAT_MS = 10_000

/**
 * The swarms a peer is a member of after it registered, kept alive by a
 * heartbeat sync each, so it goes on seeding what it downloaded; a swarm
 * whose supernode stops answering (or forgot it) is dropped. Every call
 * speaks for the peer with its registration's secret.
 */
export class SwarmMemberships {
  private readonly swarms = new Map<string, Membership>()
  private heartbeat?: ReturnType<typeof setInterval>
  private beating = false

  constructor(
    private readonly client: Pick<SupernodeClient, 'sync' | 'leave'>,
    /** Runs at the start of each heartbeat round (the supernode list's refresh). */
    private readonly onBeat: () => void = () => {},
  ) {}

  /** Called at registration and again at each sync of the download: a swarm heard from lately needs no heartbeat. */
  join(taskId: string, base: string, peerId: string, secret?: string): void {
    this.swarms.set(taskId, { base, peerId, secret, spokeAt: Date.now() })
    this.heartbeat ??= setInterval(() => void this.beat(), HEARTBEAT_MS)
    ;(this.heartbeat as { unref?: () => void }).unref?.()
  }

  /** Leaves one task's swarm (its pieces are no longer offered). */
  async leave(taskId: string): Promise<void> {
    const m = this.swarms.get(taskId)
    this.swarms.delete(taskId)
    if (m) await this.client.leave(m.base, taskId, m.peerId, m.secret).catch(() => {})
  }

  /** Stops the heartbeat and leaves every swarm. */
  async leaveAll(): Promise<void> {
    clearInterval(this.heartbeat)
    this.heartbeat = undefined
    const all = [...this.swarms]
    this.swarms.clear()
    await Promise.allSettled(all.map(([taskId, m]) => this.client.leave(m.base, taskId, m.peerId, m.secret)))
  }

  /**
   * One heartbeat round: a sync per swarm, HEARTBEAT_CONCURRENCY at a time (a
   * daemon seeding thousands of cached tasks sent them all at once, a socket
   * each); a round still running when the next is due lets it pass.
   */
  private async beat(): Promise<void> {
    if (this.beating) return
    this.beating = true
    try {
      this.onBeat()
      // A download syncs on its own (every 2-20 s): a heartbeat beside it would double a large swarm's syncs.
      // Skipped at most once in a row, so the supernode hears from the peer within 2 x HEARTBEAT_MS.
      const now = Date.now()
      const due = [...this.swarms].filter(([, m]) => now - m.spokeAt >= HEARTBEAT_MS)
      const next = async (): Promise<void> => {
        for (let item = due.pop(); item; item = due.pop()) {
          const [id, m] = item
          await this.client.sync(m.base, id, { peerId: m.peerId }, m.secret).then(
            () => void (m.spokeAt = Date.now()),
            () => {
              if (this.swarms.get(id) === m) this.swarms.delete(id)
            },
          )
        }
      }
      await Promise.all(Array.from({ length: HEARTBEAT_CONCURRENCY }, next))
    } finally {
      this.beating = false
    }
  }
}
