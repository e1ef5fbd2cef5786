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
  /** A problem worth a log line (bad data in the store, a lost lease); never thrown at peers. */
  report(message: string, taskId: string): void
}

/**
 * One task's link to the cluster, synced on every tick:
 * - pushes this supernode's members (its own cache and its local peers' bitmaps)
 *   and, while it owns the source fetch, the piece digests;
 * - pulls the other supernodes' members into the local swarm as remote sources,
 *   and the digests and completion the owner published;
 * - as a follower, copies pieces it lacks from the cluster (never the source);
 * - takes the lease when the owner is gone: first copies what the cluster still
 *   holds, then resumes the source after the pieces it has.
 */
export class TaskMirror {
  /** follow: someone else fetches; draining: lease taken, copying before resuming; source: ingest runs here. */
  phase: 'follow' | 'draining' | 'source'
  private readonly pushed: Bitset
  private pushedVersion = -1
  private pushedAt = 0
  private renewedAt = 0
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
    this.renewedAt = Date.now()
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
    }
  }

  async publishRecord(): Promise<void> {
    const record = this.record()
    await this.ctx.store.putTask(this.task.taskId, JSON.stringify(record), TASK_TTL_MS)
    this.recordComplete = record.complete
  }

  async sync(now: number): Promise<void> {
    const { task, ctx } = this
    const { store } = ctx
    const id = task.taskId
    if (task.error) return
    await this.push(now)
    const others = ctx.others()
    const [rawRecord, lease, digestCount, ...memberSets] = await Promise.all([
      store.getTask(id),
      store.leaseOwner(id),
      store.digestCount(id),
      ...others.map((sn) => store.members(id, sn)),
    ])
    const record = rawRecord ? this.parse(() => parseShared(SharedTask, rawRecord, `task record of ${id}`)) : null
    if (record?.digest && !task.digest && record.complete) {
      task.digest = record.digest
      task.swarm.changed()
    }
    if (this.phase === 'follow' && digestCount > countKnown(task)) this.mergeDigests(await store.digests(id))
    task.swarm.syncRemote(
      memberSets.flatMap((set, i) => this.members(set, others[i]!)),
      now,
    )
    if (task.complete && !this.recordComplete && task.digest) await this.publishRecord()
    if (this.phase !== 'follow') await this.keepLease(now)
    if (task.complete) {
      if (this.phase !== 'follow') await this.release()
      return
    }
    if (this.phase !== 'source') this.replicator.fill(now)
    if (this.phase === 'follow' && (lease === null || lease === ctx.self.id) && (!record?.complete || this.replicator.stuck())) {
      if (await store.acquireLease(id, ctx.self.id, ctx.leaseMs)) {
        this.phase = 'draining'
        this.renewedAt = now
        ctx.report(`took over the source lease of ${task.url}`, id)
      }
    }
    if (this.phase === 'draining' && this.replicator.stuck()) await this.resume()
  }

  /** Lets go of the lease (task complete here, or supernode closing). */
  async release(): Promise<void> {
    if (this.task.complete || this.task.error) this.replicator.active = false
    if (this.phase === 'follow') return
    this.phase = 'follow'
    await this.ctx.store.releaseLease(this.task.taskId, this.ctx.self.id)
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

  private async keepLease(now: number): Promise<void> {
    if (now - this.renewedAt < this.ctx.leaseMs / 3) return
    this.renewedAt = now
    const { store, self, leaseMs } = this.ctx
    if (await store.renewLease(this.task.taskId, self.id, leaseMs)) return
    if (!(await store.acquireLease(this.task.taskId, self.id, leaseMs)))
      this.ctx.report(`lost the source lease of ${this.task.url} to another supernode`, this.task.taskId)
  }

  private async push(now: number): Promise<void> {
    const { task, ctx } = this
    const { swarm } = task
    if (this.phase === 'source') {
      const fresh: Record<string, string> = {}
      for (let n = 0; n < swarm.layout.pieceCount; n++) {
        if (swarm.seed.have.has(n) && !this.pushed.has(n) && swarm.digests[n]) fresh[n] = swarm.digests[n]!
      }
      const pieces = Object.keys(fresh)
      if (pieces.length > 0) {
        await ctx.store.putDigests(task.taskId, fresh, TASK_TTL_MS)
        for (const n of pieces) this.pushed.set(Number(n))
      }
    }
    if (swarm.version === this.pushedVersion && now - this.pushedAt < ctx.leaseMs / 3) return
    this.pushedVersion = swarm.version
    this.pushedAt = now
    const members: Record<string, string> = {
      [`sn:${ctx.self.id}`]: JSON.stringify({ address: ctx.self.url, location: ctx.self.location, slots: swarm.seed.slots, have: swarm.seed.have.toBase64() }),
    }
    for (const p of swarm.peers.values()) {
      if (p.remote !== undefined || p.isolated) continue
      members[p.id] = JSON.stringify({ address: p.address, location: p.location, slots: p.slots, have: p.have.toBase64() })
    }
    await ctx.store.putMembers(task.taskId, ctx.self.id, members, ctx.leaseMs)
  }

  private mergeDigests(digests: Record<string, string>): void {
    const { swarm } = this.task
    for (const [key, value] of Object.entries(digests)) {
      const n = Number(key)
      if (!/^\d{1,9}$/.test(key) || n >= swarm.layout.pieceCount || swarm.digests[n] !== undefined) continue
      if (HEX64.test(value)) swarm.digests[n] = value
      else this.ctx.report(`cluster store holds an invalid digest for piece ${n} of ${this.task.taskId}`, this.task.taskId)
    }
  }

  private members(set: Record<string, string>, via: string): RemoteMember[] {
    const out: RemoteMember[] = []
    const { pieceCount } = this.task.layout
    for (const [id, raw] of Object.entries(set)) {
      if (!/^(sn:[0-9a-f]{16}|[0-9a-f-]{36})$/.test(id)) continue
      const m = this.parse(() => parseShared(SharedMember, raw, `swarm member ${id} of ${this.task.taskId}`))
      if (m) out.push({ id, via, address: m.address, location: m.location, slots: m.slots, have: Bitset.fromBase64(pieceCount, m.have) })
    }
    return out
  }

  private parse<T>(read: () => T): T | null {
    try {
      return read()
    } catch (error) {
      this.ctx.report((error as Error).message, this.task.taskId)
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
