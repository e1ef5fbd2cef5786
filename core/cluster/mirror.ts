import { type ClusterStore, parseShared, SharedMember, SharedTask } from '../contract/cluster-store.ts'
import { toDragonflyError } from '../errors.ts'
import { Bitset } from '../protocol/bitset.ts'
import type { Cdn } from '../supernode/cdn/cdn.ts'
import type { CdnMeta, CdnTask } from '../supernode/cdn/cdn-task.ts'
import type { RemoteMember } from '../supernode/scheduler/swarm-types.ts'
import type { ClusterSelf } from './directory.ts'
import { ClusterReplicator, type ReplicatorContext } from './replicator.ts'

export interface MirrorContext extends ReplicatorContext {
  store: ClusterStore
  self: ClusterSelf
  cdn: Cdn
  leaseMs: number
  /** Other live supernodes (the directory's last read). */
  others(): string[]
  /** A problem worth a (rate-limited) log line, grouped by `condition`; never thrown at peers. */
  report(condition: string, message: string, taskId: string): void
}

/**
 * One task's link to the cluster:
 * - pushes this supernode's members (its own cache and its local peers' bitmaps)
 *   when they change and, while it owns the source fetch, the piece digests,
 *   then tells the others (`notify`);
 * - pulls the other supernodes' members into the local swarm as remote sources,
 *   and the digests and completion the owner published, when told or polled;
 * - as a follower, copies pieces it lacks from the cluster (never the source);
 * - takes the lease when the owner is gone: first copies what the cluster still
 *   holds, then resumes the source after the pieces it has.
 * Once the task is complete here and its record says so, it is settled: no
 * periodic work until the store needs it written back.
 */
export class TaskMirror {
  /** follow: someone else fetches; draining: lease taken, copying before resuming; source: ingest runs here. */
  phase: 'follow' | 'draining' | 'source'
  /** When the shared state was last read (ms). */
  pulledAt = 0
  private stuckSince = 0
  /** The last lease holder seen other than this supernode: a takeover waits for it to be gone, not just late. */
  private lastOwner: string | null = null
  private pushed: Bitset
  private pushedVersion = -1
  private recordComplete = false
  private readonly replicator: ClusterReplicator

  constructor(
    readonly task: CdnTask,
    readonly meta: CdnMeta,
    owner: boolean,
    private readonly ctx: MirrorContext,
  ) {
    this.phase = owner ? 'source' : 'follow'
    this.pushed = new Bitset(task.layout.pieceCount)
    this.replicator = new ClusterReplicator(task, meta, ctx)
  }

  /** Complete here, published as complete, lease let go, members written: nothing left to do. */
  get settled(): boolean {
    return (this.task.complete && this.recordComplete && this.phase === 'follow' && this.pushedVersion === this.task.swarm.version) || !!this.task.error
  }

  get holdsLease(): boolean {
    return this.phase !== 'follow'
  }

  /** What followers need: the layout, the validators, and the digest once complete. */
  record(): SharedTask {
    const { meta, task } = this
    return {
      url: meta.url,
      contentLength: task.layout.contentLength,
      pieceSize: task.layout.pieceSize,
      complete: task.complete && task.digest !== undefined,
      ...(task.digest ? { digest: task.digest } : {}),
      ...(meta.etag ? { etag: meta.etag } : {}),
      ...(meta.lastModified ? { lastModified: meta.lastModified } : {}),
      ...(meta.private ? { private: true } : {}),
      ...(meta.capabilityKey ? { capabilityKey: meta.capabilityKey } : {}),
    }
  }

  async publishRecord(): Promise<void> {
    const record = this.record()
    await this.ctx.store.putTask(this.task.taskId, JSON.stringify(record), TASK_TTL_MS)
    this.recordComplete = record.complete
    await this.notify()
  }

  /**
   * Writes again everything this supernode holds of the task (the store came
   * back empty, or lost writes): the record when it owns the task or has it
   * complete, every digest it knows, its members; leases are retaken.
   */
  async writeBack(): Promise<void> {
    const { task, ctx } = this
    if (task.error) return
    if (this.phase !== 'follow' && !(await ctx.store.acquireLease(task.taskId, ctx.self.id, ctx.leaseMs)))
      ctx.report('lease-lost', `lost the source lease of ${task.url} to another supernode`, task.taskId)
    if (this.phase !== 'follow' || task.complete) await this.publishRecord()
    this.pushed = new Bitset(task.layout.pieceCount)
    this.pushedVersion = -1
    await this.push(true)
  }

  /** Pushes local changes; reads the cluster's state when `pull` (told of a change, or polling). */
  async sync(now: number, pull: boolean): Promise<void> {
    const { task, ctx } = this
    const { store } = ctx
    const id = task.taskId
    if (task.error) return
    await this.push(this.phase !== 'follow' || task.complete)
    if (task.complete && !this.recordComplete && task.digest) await this.publishRecord()
    if (task.complete) {
      // A follower can finish copying before the owner publishes the record complete: it reads the record
      // again (told, or polling) until it names the whole-content digest; without it the task never settles.
      if (!task.digest && pull) {
        this.pulledAt = now
        this.learnDigest(await store.getTask(id))
      }
      if (this.phase !== 'follow') await this.release()
      return
    }
    if (!pull) {
      if (this.phase !== 'source') this.replicator.fill(now)
      return
    }
    this.pulledAt = now
    const others = [...ctx.others(), ...(ctx.departed?.() ?? [])]
    const live = new Set(ctx.others())
    const [rawRecord, lease, digestCount, ...memberSets] = await Promise.all([
      store.getTask(id),
      store.leaseOwner(id),
      store.digestCount(id),
      ...others.map((sn) => store.members(id, sn)),
    ])
    const record = this.learnDigest(rawRecord)
    if (this.phase === 'follow' && digestCount > countKnown(task)) this.mergeDigests(await store.digests(id))
    task.swarm.syncRemote(
      memberSets.flatMap((set, i) => this.members(set, others[i]!, live.has(others[i]!))),
      now,
    )
    if (lease !== null && lease !== ctx.self.id) this.lastOwner = lease
    if (this.phase !== 'source') this.replicator.fill(now)
    if (this.phase === 'follow' && (lease === null || lease === ctx.self.id) && (!record?.complete || this.replicator.stuck())) {
      if (await store.acquireLease(id, ctx.self.id, ctx.leaseMs)) {
        this.phase = 'draining'
        ctx.report(`takeover:${id}`, `took over the source lease of ${task.url}`, id)
      }
    }
    // Peers of a dead owner re-register elsewhere within moments, with pieces nobody else lists yet: give them that long.
    // An owner that only stalled past its lease announces itself again and keeps fetching: copy from it rather than read twice.
    const ownerGone = this.lastOwner === null || !live.has(this.lastOwner)
    if (this.phase !== 'draining' || !ownerGone || !this.replicator.stuck()) this.stuckSince = 0
    else if (!this.stuckSince) this.stuckSince = now
    else if (now - this.stuckSince >= ctx.leaseMs) await this.resume()
  }

  /** Lets go of the lease (task complete here, or supernode closing). */
  async release(): Promise<void> {
    if (this.task.complete || this.task.error) this.replicator.active = false
    if (this.phase === 'follow') return
    this.phase = 'follow'
    await this.ctx.store.releaseLease(this.task.taskId, this.ctx.self.id)
  }

  /** Extends the lease while this supernode holds it; retakes a lapsed one that nobody else took. */
  async keepLease(): Promise<void> {
    if (this.phase === 'follow') return
    const { store, self, leaseMs } = this.ctx
    if (await store.renewLease(this.task.taskId, self.id, leaseMs)) return
    if (!(await store.acquireLease(this.task.taskId, self.id, leaseMs)))
      this.ctx.report('lease-lost', `lost the source lease of ${this.task.url} to another supernode`, this.task.taskId)
  }

  private async resume(): Promise<void> {
    this.phase = 'source'
    this.replicator.active = false
    try {
      await this.ctx.cdn.resumeSource(this.task, this.meta)
    } catch (error) {
      this.task.error = toDragonflyError(error, 'E_SOURCE_UNREACHABLE')
      this.task.swarm.changed()
      await this.release()
    }
  }

  /** Digests (owner, or complete copy) and members, written only when they changed; others are told. */
  private async push(digests: boolean): Promise<void> {
    const { task, ctx } = this
    const { swarm } = task
    let changed = false
    if (digests) {
      const fresh: Record<string, string> = {}
      for (let n = 0; n < swarm.layout.pieceCount; n++) {
        if (swarm.seed.have.has(n) && !this.pushed.has(n) && swarm.digests[n]) fresh[n] = swarm.digests[n]!
      }
      const pieces = Object.keys(fresh)
      if (pieces.length > 0) {
        await ctx.store.putDigests(task.taskId, fresh, TASK_TTL_MS)
        for (const n of pieces) this.pushed.set(Number(n))
        changed = true
      }
    }
    if (swarm.version !== this.pushedVersion) {
      this.pushedVersion = swarm.version
      const members: Record<string, string> = {
        [`sn:${ctx.self.id}`]: JSON.stringify({
          address: ctx.self.url,
          location: ctx.self.location,
          slots: swarm.seed.slots,
          have: swarm.seed.have.toBase64(),
        }),
      }
      for (const p of swarm.peers.values()) {
        if (p.remote !== undefined || p.isolated) continue
        members[p.id] = JSON.stringify({ address: p.address, location: p.location, slots: p.slots, have: p.have.toBase64() })
      }
      // Liveness is the supernode's announcement, not this hash's TTL: the directory only reads the sets of live supernodes.
      await ctx.store.putMembers(task.taskId, ctx.self.id, members, TASK_TTL_MS)
      changed = true
    }
    if (changed) await this.notify()
  }

  private async notify(): Promise<void> {
    await this.ctx.store.notify?.(this.task.taskId, this.ctx.self.id)
  }

  /** Parses the task's record; takes the whole-content digest from it once the owner published it complete. */
  private learnDigest(raw: string | null): SharedTask | null {
    const { task } = this
    const record = raw ? this.parse(() => parseShared(SharedTask, raw, `task record of ${task.taskId}`)) : null
    if (record?.digest && !task.digest && record.complete) {
      task.digest = record.digest
      task.swarm.changed()
    }
    return record
  }

  private mergeDigests(digests: Record<string, string>): void {
    const { swarm } = this.task
    for (const [key, value] of Object.entries(digests)) {
      const n = Number(key)
      if (!/^\d{1,9}$/.test(key) || n >= swarm.layout.pieceCount || swarm.digests[n] !== undefined) continue
      if (HEX64.test(value)) swarm.digests[n] = value
      else this.ctx.report('bad-data', `cluster store holds an invalid digest for piece ${n} of ${this.task.taskId}`, this.task.taskId)
    }
  }

  /** The members a supernode listed; of one no longer live, only its peers (a daemon outlives the supernode it registered with). */
  private members(set: Record<string, string>, via: string, live: boolean): RemoteMember[] {
    const out: RemoteMember[] = []
    const { pieceCount } = this.task.layout
    for (const [id, raw] of Object.entries(set)) {
      if (!/^(sn:[0-9a-f]{16}|[0-9a-f-]{36})$/.test(id) || (!live && id.startsWith('sn:'))) continue
      const m = this.parse(() => parseShared(SharedMember, raw, `swarm member ${id} of ${this.task.taskId}`))
      if (m) out.push({ id, via, address: m.address, location: m.location, slots: m.slots, have: Bitset.fromBase64(pieceCount, m.have) })
    }
    return out
  }

  private parse<T>(read: () => T): T | null {
    try {
      return read()
    } catch (error) {
      this.ctx.report('bad-data', (error as Error).message, this.task.taskId)
      return null
    }
  }
}

const HEX64 = /^[0-9a-f]{64}$/

/** Shared task records and digests outlive their last write by a day. */
const TASK_TTL_MS = 86_400_000

function countKnown(task: CdnTask): number {
  let n = 0
  for (const d of task.swarm.digests) if (d !== undefined) n++
  return n
}
