import { type CacheGcOptions, collectGarbage, type GcCandidate, type GcResult } from '../../cache/cache-gc.ts'
import { ensureSpace } from '../../cache/disk-space.ts'
import type { SharedTask } from '../../contract/cluster-store.ts'
import type { CreateHash } from '../../contract/hash.ts'
import { outgoingHeaders, type PluginSet } from '../../contract/plugin.ts'
import type { StorageDriver } from '../../contract/storage.ts'
import { createError, toDragonflyError } from '../../errors.ts'
import { createPieceLayout, isValidLayout, type PieceLayout } from '../../protocol/piece-layout.ts'
import { computeTaskId, normalizeTaskUrl, parseFilter } from '../../protocol/task-id.ts'
import { sourceStatusError } from '../../source/fetch-source.ts'
import { credentialHash, SourceAccess } from '../../source/source-access.ts'
import { createSourceGuard, type SourceGuard } from '../../source/source-guard.ts'
import { DEFAULT_RETRY, fetchSourceWithRetry, type RetryPolicy } from '../../source/source-retry.ts'
import { CapabilityGate, createTaskKey, isTaskKey } from '../../transfer/capability.ts'
import { contentLengthOf, rangeContinues } from '../../transfer/piece-cutter.ts'
import type { Limits } from '../../transfer/rate-limit.ts'
import { findBadPieces } from '../../transfer/stored-pieces.ts'
import type { SupernodeEvents } from '../events.ts'
import { Swarm } from '../scheduler/swarm.ts'
import type { SwarmOptions } from '../scheduler/swarm-types.ts'
import type { CdnMeta, CdnTask, TaskCoordinator, TaskRequest } from './cdn-task.ts'
import { DigestDisputes } from './digest-dispute.ts'
import { ingest } from './ingest.ts'
import { isComplete, revalidate } from './revalidate.ts'

export interface CdnOptions {
  plugins: PluginSet
  storage: StorageDriver
  createHash: CreateHash
  swarm?: Partial<SwarmOptions>
  /** How long a failed source answer (404, 401, unreachable) is remembered. */
  failureTtlMs?: number
  /** Pieces buffered between the source reader and storage. */
  writeAhead?: number
  /** Retries of 5xx answers, failed connections and bodies cut short. */
  retry?: RetryPolicy
  /** Refuses source hosts (SSRF guard); cloud metadata addresses are always refused. */
  guard?: SourceGuard
  events?: SupernodeEvents
  /** The host's bandwidth limits (`supernode --total-limit`): source reads and piece uploads. */
  limits?: Limits
  /** Cluster mode: one supernode of the cluster fetches each source, the others follow it. */
  coordinator?: TaskCoordinator
}

interface Entry {
  ready: Promise<CdnTask>
  task?: CdnTask
  failedAt?: number
}

/**
 * The passive CDN: fetches a task's source once (concurrent callers share the
 * fetch), cuts the stream into pieces, hashes and stores each, and seeds it to
 * the swarm as soon as it is stored. A complete cache is reused; a partial one
 * resumes with a Range request.
 */
export class Cdn {
  readonly tasks = new Map<string, Entry>()
  readonly access: SourceAccess
  get limits(): Limits | undefined {
    return this.options.limits
  }
  private readonly options: CdnOptions
  private readonly aborter = new AbortController()

  private readonly guard: SourceGuard
  private readonly disputes: DigestDisputes

  constructor(options: CdnOptions) {
    this.options = options
    this.guard = options.guard ?? createSourceGuard()
    this.disputes = new DigestDisputes({
      createHash: options.createHash,
      transforms: options.plugins.transforms,
      headers: (url) => outgoingHeaders(options.plugins, url),
    })
    this.access = new SourceAccess(options.plugins, { guard: this.guard })
  }

  /** The task for this request, starting the source fetch if nobody has. Resolves once the layout is known. */
  async ensure(request: TaskRequest): Promise<CdnTask> {
    this.guard(request.url)
    const filter = parseFilter(request.filter)
    const taskId = await computeTaskId({ url: request.url, digest: request.digest, tag: request.tag, filter }, this.options.createHash)
    const existing = this.tasks.get(taskId)
    if (existing) {
      if (existing.failedAt === undefined) {
        const task = await existing.ready
        task.lastUsed = Date.now()
        return task
      }
      // A failed source answer is remembered briefly, so a burst of requests does not hammer the source.
      if (Date.now() - existing.failedAt <= (this.options.failureTtlMs ?? 5_000)) {
        const task = await existing.ready
        throw task.error ?? createError('E_SOURCE_UNREACHABLE', `source fetch for ${task.url} failed`)
      }
    }
    const entry: Entry = { ready: Promise.resolve() as unknown as Promise<CdnTask> }
    entry.ready = this.start(taskId, request, entry).catch((error) => {
      entry.failedAt = Date.now()
      const err = toDragonflyError(error, 'E_SOURCE_UNREACHABLE')
      this.options.coordinator?.failed(taskId, err)
      this.options.events?.taskFailed?.({ taskId, url: request.url }, err)
      throw err
    })
    entry.ready.catch(() => {})
    this.tasks.set(taskId, entry)
    return entry.ready
  }

  /**
   * Evicts least recently used complete tasks that no peer is in, when the
   * cache is over its high watermark. Tasks still fetching or with peers stay.
   */
  async collect(options: CacheGcOptions): Promise<GcResult | null> {
    const { storage } = this.options
    if (options.quotaBytes <= 0 || !storage.usage) return null
    const usage = await storage.usage()
    const candidates: GcCandidate[] = []
    for (const key of await storage.listKeys()) {
      const task = this.tasks.get(key)?.task
      if (task && (!task.complete || task.swarm.peers.size > 0)) continue
      const meta = await storage.getMeta<CdnMeta>(key).catch(() => null)
      if (!task && meta && !meta.complete && Date.now() - meta.updatedAt < 60_000) continue
      candidates.push({ key, bytes: meta?.contentLength ?? 0, lastUsed: task?.lastUsed ?? meta?.updatedAt ?? 0 })
    }
    return collectGarbage(storage, candidates, usage, options, async (key) => {
      this.tasks.delete(key)
      await storage.remove(key)
    })
  }

  get(taskId: string): CdnTask | undefined {
    return this.tasks.get(taskId)?.task
  }

  close(): void {
    this.aborter.abort()
    for (const entry of this.tasks.values()) entry.task?.swarm.changed()
  }

  private async start(taskId: string, request: TaskRequest, entry: Entry): Promise<CdnTask> {
    const { storage, plugins } = this.options
    const url = normalizeTaskUrl(request.url, parseFilter(request.filter))
    const credential = await credentialHash(request.headers)
    const stored = await storage.getMeta<CdnMeta>(taskId).catch(() => null)
    const meta = stored && stored.url === url && isSaneMeta(stored) ? await this.checkCache(taskId, stored) : null
    const complete = isComplete(meta)
    // Content named by its digest never changes: a complete cache of it needs no revalidation.
    if (complete && request.digest) return this.fromCache(taskId, url, meta!, entry, meta!.private ? '*' : '')
    const shared = await this.options.coordinator?.claim(taskId)
    if (shared) return this.follow(taskId, url, request, shared, meta, entry)
    const answer = await revalidate(meta, request.url, (init) =>
      fetchSourceWithRetry(plugins, { url: request.url, headers: request.headers ?? {}, ...init, signal: this.aborter.signal }, this.options.retry, this.guard),
    )
    if (answer.kind === 'unchanged') return this.fromCache(taskId, url, meta!, entry, credential || (meta!.private ? '*' : ''))
    const { response, contentLength: length, resumedFrom: partial, offset } = answer
    const resumed = partial !== null
    // A 200 replaces whatever was cached: the content changed, or the source cannot resume.
    if (meta && !resumed) await storage.remove(taskId)
    let layout: PieceLayout
    try {
      layout = createPieceLayout(length, partial?.pieceSize)
      await ensureSpace(storage, length - offset, `${request.url} in the supernode cache`)
    } catch (error) {
      await response.body?.cancel().catch(() => {})
      throw error
    }
    const task = this.createTask(taskId, url, layout, credential, partial?.capabilityKey)
    const next: CdnMeta = {
      url,
      contentLength: length,
      pieceSize: layout.pieceSize,
      digests: partial ? partial.digests : [],
      complete: false,
      etag: response.headers.get('etag') ?? partial?.etag ?? undefined,
      lastModified: response.headers.get('last-modified') ?? partial?.lastModified ?? undefined,
      ...(credential ? { private: true } : {}),
      ...(task.gate ? { capabilityKey: task.gate.key } : {}),
      updatedAt: Date.now(),
    }
    for (const [n, d] of next.digests.entries()) task.swarm.seedPiece(n, d)
    task.request = request
    entry.task = task
    this.options.coordinator?.opened(task, next)
    this.options.events?.taskStarted?.(infoOf(task), offset)
    this.runIngest(task, next, response, entry)
    return task
  }

  /**
   * Cluster takeover: this supernode now owns the source fetch of a task it
   * followed. It asks the source for what comes after the pieces it holds
   * (If-Range on the owner's validators), or for all of it when it holds none.
   */
  async resumeSource(task: CdnTask, meta: CdnMeta): Promise<void> {
    const entry = this.tasks.get(task.taskId)
    const request = task.request
    if (!entry || !request) throw createError('E_INTERNAL', `task ${task.taskId} cannot be resumed here`)
    const prefix = task.swarm.seed.have.prefixLength()
    meta.digests = task.swarm.digests.slice(0, prefix) as string[]
    const offset = prefix * task.layout.pieceSize
    const validators = meta.etag || meta.lastModified ? { etag: meta.etag, lastModified: meta.lastModified } : undefined
    const response = await fetchSourceWithRetry(
      this.options.plugins,
      {
        url: request.url,
        headers: request.headers ?? {},
        ...(prefix > 0 && validators ? { range: { start: offset }, validators } : {}),
        signal: this.aborter.signal,
      },
      this.options.retry,
      this.guard,
    )
    const resumed = prefix > 0 && response.status === 206 && rangeContinues(response, offset, task.layout.contentLength) !== null
    const same =
      response.status === 200 && contentLengthOf(response) === task.layout.contentLength && (!meta.etag || response.headers.get('etag') === meta.etag)
    if (!resumed && !same) {
      await response.body?.cancel().catch(() => {})
      throw response.status === 200
        ? createError('E_SOURCE_STATUS', `source content of ${request.url} changed during the download`)
        : sourceStatusError(request.url, response.status)
    }
    this.options.events?.taskStarted?.(infoOf(task), resumed ? offset : 0)
    this.runIngest(task, meta, response, entry, resumed ? prefix : 0)
  }

  private runIngest(task: CdnTask, meta: CdnMeta, response: Response, entry: Entry, firstPiece?: number): void {
    const source = { taskId: task.taskId, url: task.url }
    ingest({
      task,
      meta,
      response,
      request: task.request ?? { url: task.url },
      plugins: this.options.plugins,
      storage: this.options.storage,
      createHash: this.options.createHash,
      signal: this.aborter.signal,
      retry: this.options.retry ?? DEFAULT_RETRY,
      writeAhead: this.options.writeAhead,
      onSourceBytes: (n) => this.options.events?.sourceBytes?.(n, source),
      limiter: this.options.limits?.down,
      guard: this.guard,
      firstPiece,
    }).then(
      () => this.options.events?.taskCompleted?.(infoOf(task), false),
      (error) => {
        task.error = toDragonflyError(error, 'E_SOURCE_UNREACHABLE')
        entry.failedAt = Date.now()
        this.options.events?.taskFailed?.(infoOf(task), task.error)
        task.swarm.changed()
      },
    )
  }

  /** Cluster mode: another supernode owns the source fetch; take its layout, keep what this cache holds of it. */
  private async follow(taskId: string, url: string, request: TaskRequest, shared: SharedTask, local: CdnMeta | null, entry: Entry): Promise<CdnTask> {
    const layout = createPieceLayout(shared.contentLength, shared.pieceSize)
    const same =
      local &&
      local.contentLength === shared.contentLength &&
      local.pieceSize === shared.pieceSize &&
      local.etag === shared.etag &&
      (!local.digest || !shared.digest || local.digest === shared.digest)
    if (local && !same) await this.options.storage.remove(taskId)
    const { contentLength, pieceSize, etag, lastModified } = shared
    const meta: CdnMeta = same
      ? local
      : { url, contentLength, pieceSize, digests: [], complete: false, etag, lastModified, ...(shared.private ? { private: true } : {}), updatedAt: Date.now() }
    const task = this.createTask(taskId, url, layout, shared.private ? '*' : '', shared.capabilityKey ?? meta.capabilityKey)
    if (task.gate) meta.capabilityKey = task.gate.key
    task.request = request
    for (const [n, d] of meta.digests.entries()) task.swarm.seedPiece(n, d)
    if (meta.complete && meta.digests.length === layout.pieceCount) Object.assign(task, { complete: true, digest: meta.digest })
    entry.task = task
    this.options.coordinator?.opened(task, meta)
    return task
  }

  /**
   * A cache left by an earlier process is read back and hashed before it is
   * served or resumed: from the first piece that no longer matches its digest
   * on, it is treated as never fetched (the source is asked for the rest).
   */
  private async checkCache(taskId: string, meta: CdnMeta): Promise<CdnMeta> {
    const layout = createPieceLayout(meta.contentLength, meta.pieceSize)
    const held = [...meta.digests.keys()]
    const bad = await findBadPieces(this.options.storage, this.options.createHash, taskId, layout, held, (n) => meta.digests[n])
    if (bad.length === 0) return meta
    const first = Math.min(...bad)
    this.options.events?.cacheDamaged?.({ taskId, url: meta.url }, first)
    return { ...meta, digests: meta.digests.slice(0, first), complete: false, digest: undefined }
  }

  private fromCache(taskId: string, url: string, meta: CdnMeta, entry: Entry, credential: string): CdnTask {
    const task = this.createTask(taskId, url, createPieceLayout(meta.contentLength, meta.pieceSize), credential, meta.capabilityKey)
    if (task.gate && meta.capabilityKey !== task.gate.key) {
      meta.capabilityKey = task.gate.key
      this.options.storage.setMeta(taskId, meta).catch(() => {})
    }
    for (const [n, d] of meta.digests.entries()) task.swarm.seedPiece(n, d)
    task.complete = true
    task.digest = meta.digest
    entry.task = task
    this.options.coordinator?.opened(task, meta)
    this.options.events?.taskCompleted?.(infoOf(task), true)
    return task
  }

  /** A task with credential !== '' is private: it gets a capability gate (on `key` when one was kept). */
  private createTask(taskId: string, url: string, layout: PieceLayout, credential: string, key?: string): CdnTask {
    const now = Date.now()
    const { events } = this.options
    const info = { taskId, url }
    // Isolation is per task: a peer caught corrupting one task still serves the others it holds.
    const task: CdnTask = {
      taskId,
      url,
      layout,
      swarm: new Swarm(taskId, layout, { seedUplinkLimited: this.options.limits?.up !== undefined, ...this.options.swarm }, new Set(), {
        pieceDelivered: (from, bytes) => events?.pieceDelivered?.(from, bytes, info),
        peerIsolated: (peer) => events?.peerIsolated?.(info, peer),
        digestDisputed: (peer, piece) => this.disputes.dispute(task, peer, piece),
      }),
      complete: false,
      bytesFromSource: 0,
      createdAt: now,
      lastUsed: now,
      credential,
      ...(credential !== '' ? { gate: new CapabilityGate(taskId, isTaskKey(key) ? key : createTaskKey()) } : {}),
    }
    return task
  }
}

function infoOf(task: CdnTask) {
  return { taskId: task.taskId, url: task.url, contentLength: task.layout.contentLength, ...(task.digest ? { digest: task.digest } : {}) }
}

function isSaneMeta(meta: CdnMeta): boolean {
  return (
    isValidLayout(meta.contentLength, meta.pieceSize) &&
    Array.isArray(meta.digests) &&
    meta.digests.every((d) => typeof d === 'string' && /^[0-9a-f]{64}$/.test(d))
  )
}
