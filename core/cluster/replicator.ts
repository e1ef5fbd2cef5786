import type { CreateHash } from '../contract/hash.ts'
import type { PieceTransform } from '../contract/plugin.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { SUPERNODE_ID } from '../protocol/api-schema.ts'
import { pieceRange } from '../protocol/piece-layout.ts'
import type { CdnMeta, CdnTask } from '../supernode/cdn/cdn-task.ts'
import type { PeerState } from '../supernode/scheduler/swarm-types.ts'
import { capabilityHeaders } from '../transfer/capability.ts'
import { fetchPiece } from '../transfer/piece-fetch.ts'

export interface ReplicatorContext {
  storage: StorageDriver
  createHash: CreateHash
  transforms?: readonly PieceTransform[]
  /** Headers for requests to other piece servers (auth plugins). */
  headers?: (url: string) => Record<string, string>
  /** Pieces copied at once per task. @default 8 */
  concurrency?: number
  /** @default 30000 */
  pieceTimeoutMs?: number
  /** Supernodes that left the cluster lately (their peers are tried, but not waited for). */
  departed?(): string[]
}

/** A holder that failed is left alone this long. */
const BACKOFF_MS = 2_000

/**
 * A follower supernode's copy of a task: it fetches the pieces it lacks from
 * whoever in the cluster holds them (other supernodes first, then peers),
 * lowest piece first so its cache stays a prefix a takeover can resume after,
 * verifies each against the owner's digest, stores it and seeds it. It never
 * reads the source.
 */
export class ClusterReplicator {
  private readonly inflight = new Set<number>()
  private readonly backoff = new Map<string, number>()
  private saved = 0
  /** Cleared when the task is no longer followed (taken over, or closed). */
  active = true

  constructor(
    private readonly task: CdnTask,
    private readonly meta: CdnMeta,
    private readonly ctx: ReplicatorContext,
  ) {}

  /** Starts copies of missing pieces, up to the concurrency limit. */
  fill(now: number): void {
    const { swarm, layout } = this.task
    if (!this.active || this.task.complete || this.task.error) return
    const limit = this.ctx.concurrency ?? 8
    for (let n = 0; n < layout.pieceCount && this.inflight.size < limit; n++) {
      if (swarm.seed.have.has(n) || this.inflight.has(n) || swarm.digests[n] === undefined) continue
      const holder = this.holderOf(n, now)
      if (holder) this.copy(n, holder, swarm.digests[n]!)
    }
  }

  /** True when the first missing piece can come from nobody in the cluster: only the source has it. */
  stuck(): boolean {
    const { swarm } = this.task
    const first = swarm.seed.have.prefixLength()
    if (first >= swarm.layout.pieceCount) return false
    if (this.inflight.has(first)) return false
    if (swarm.digests[first] === undefined) return true
    // A peer listed only by a supernode that left counts until it fails once: it may have left with it.
    const now = Date.now()
    const departed = new Set(this.ctx.departed?.() ?? [])
    for (const p of swarm.peers.values()) {
      if (p.isolated || !p.have.has(first)) continue
      if (p.remote !== undefined && departed.has(p.remote) && (this.backoff.get(p.id) ?? 0) > now) continue
      return false
    }
    return true
  }

  private holderOf(n: number, now: number): PeerState | null {
    const peers: PeerState[] = []
    for (const p of this.task.swarm.peers.values()) {
      if (p.isolated || !p.have.has(n) || (this.backoff.get(p.id) ?? 0) > now) continue
      // Another supernode has room to spare; peers share the work, a piece each in turn.
      if (p.id.startsWith('sn:')) return p
      peers.push(p)
    }
    return peers[n % Math.max(1, peers.length)] ?? null
  }

  private copy(n: number, holder: PeerState, digest: string): void {
    const { task, ctx } = this
    this.inflight.add(n)
    const range = pieceRange(task.layout, n)
    // A private task's holders want a capability: this supernode holds the task's key and issues its own.
    capabilityHeaders(task.gate, SUPERNODE_ID)
      .then((capability) =>
        fetchPiece({
          base: holder.address,
          taskId: task.taskId,
          piece: n,
          size: range.length,
          digest,
          createHash: ctx.createHash,
          timeoutMs: ctx.pieceTimeoutMs ?? 30_000,
          transforms: ctx.transforms,
          headers: { ...ctx.headers?.(holder.address), ...capability },
        }),
      )
      .then(async (outcome) => {
        if (!outcome.ok) {
          this.backoff.set(holder.id, Date.now() + BACKOFF_MS)
          if (outcome.error === 'digest') task.swarm.isolate(holder)
          return
        }
        if (task.swarm.seed.have.has(n)) return
        await ctx.storage.writeAt(task.taskId, range.start, outcome.bytes)
        task.swarm.seedPiece(n, digest)
        await this.save()
      })
      .catch(() => this.backoff.set(holder.id, Date.now() + BACKOFF_MS))
      .finally(() => {
        this.inflight.delete(n)
        // Keep up with the owner: the next copy starts now, not at the next tick.
        if (this.active) this.fill(Date.now())
      })
  }

  /** Records the stored prefix (what a restart or takeover resumes after); marks the cache complete at the end. */
  private async save(): Promise<void> {
    const { task, meta } = this
    const { seed, digests } = task.swarm
    const prefix = seed.have.prefixLength()
    if (seed.have.complete) {
      task.complete = true
      task.swarm.changed()
    } else if (prefix - this.saved < 16) return
    this.saved = prefix
    meta.digests = digests.slice(0, prefix) as string[]
    Object.assign(meta, { complete: task.complete, ...(task.digest ? { digest: task.digest } : {}), updatedAt: Date.now() })
    await this.ctx.storage.setMeta(task.taskId, meta)
  }
}
