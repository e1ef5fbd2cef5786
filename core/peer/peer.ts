import { ensureSpace } from '../cache/disk-space.ts'
import type { CreateHash, CreatePieceHasher } from '../contract/hash.ts'
import type { PieceHttpGet } from '../contract/piece-get.ts'
import type { PluginSet } from '../contract/plugin.ts'
import type { ServeFn, ServerHandle } from '../contract/serve.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { createError, type DragonflyError, isDragonflyError } from '../errors.ts'
import type { RegisterResponse } from '../protocol/api-schema.ts'
import { Bitset } from '../protocol/bitset.ts'
import { parseDigest } from '../protocol/digest.ts'
import { createPieceLayout, type PieceLayout } from '../protocol/piece-layout.ts'
import { computeTaskId, parseFilter } from '../protocol/task-id.ts'
import type { SourceGuard } from '../source/source-guard.ts'
import { createLimits, type Limits } from '../transfer/rate-limit.ts'
import { backToSource } from './back-to-source.ts'
import type { DownloadHost } from './download-host.ts'
import { progressOf, throttleProgress } from './download-progress.ts'
import type { DownloadRequest, DownloadResult, DownloadStats } from './download-types.ts'
import { type PeerOptionValues, withPeerDefaults } from './peer-options.ts'
import { bytesMissing, type LocalTask, loadTaskState, newTaskDigest, saveTaskState, type TaskAccess } from './peer-tasks.ts'
import { servePieces } from './piece-serving.ts'
import { accessOf, registerDownload, reportBackToSource } from './registration.ts'
import { createSupernodeClient, isSupernodeDown, type SupernodeClient } from './supernode-client.ts'
import { SupernodeList } from './supernode-list.ts'
import { runSwarmDownload } from './swarm-download.ts'
import { SwarmMemberships } from './swarm-memberships.ts'
import { TaskProgress } from './task-progress.ts'

/**
 * What a peer runs on (plugins, storage, runtime capabilities), and its
 * options: those are declared in peer-options.ts (type, default, check), the
 * same schema the config file's `peer` section is read with.
 */
export interface PeerOptions extends Partial<PeerOptionValues> {
  plugins: PluginSet
  /** The peer's piece store (the storage plugin opened on the `peer` namespace). */
  storage: StorageDriver
  createHash: CreateHash
  /** Hashes received pieces off the event loop (the runtime's hash thread). @default on this thread, with `createHash` */
  createPieceHasher?: CreatePieceHasher
  /** Memory for receive buffers that `createPieceHasher` reads in place and direct I/O accepts. @default `new Uint8Array` */
  allocate?: (bytes: number) => Uint8Array
  serve: ServeFn
  /** Piece server port; 0 picks a free one. @default 0 */
  port?: number
  /** Called after each piece this peer served to another (metrics). */
  onServed?: (taskId: string, piece: number, bytes: number) => void
  /** The piece GET (the runtime's fastest). @default fetch */
  pieceGet?: PieceHttpGet
  /** The transport of supernode API calls (the runtime's lightest). @default fetch */
  apiFetch?: typeof fetch
  /** The SSRF guard back-to-source fetches go through (a daemon fetching for local clients). @default none */
  sourceGuard?: SourceGuard
}

/**
 * The peer engine: one piece server, any number of downloads. Runs the
 * download against the supernodes in order, fails over, and goes back to
 * the source when none answers (unless told not to).
 */
export class Peer implements DownloadHost {
  /** The options given, with the defaults of those left out. */
  readonly options: PeerOptions & PeerOptionValues
  readonly tasks = new Map<string, LocalTask>()
  readonly client: SupernodeClient
  /** The supernodes to use, best first (the cluster's config service's answer, then the given ones). */
  readonly supernodes: SupernodeList
  /** Notified when a task's layout is known and after every verified piece (progressive readers wait on it). */
  readonly progress = new TaskProgress()
  private server?: ServerHandle
  /** Swarms this peer is in, kept alive by a heartbeat so it seeds after its download. */
  private readonly memberships: SwarmMemberships
  /** The host's limits (`totalLimit`) and each task's under them. */
  private readonly hostLimits: Limits
  private readonly taskLimits = new Map<string, Limits>()
  address = ''

  constructor(options: PeerOptions) {
    this.options = withPeerDefaults(options)
    this.hostLimits = createLimits(options.totalLimit)
    this.client = createSupernodeClient({ headers: (url) => this.outgoingHeaders(url), fetch: options.apiFetch })
    this.supernodes = new SupernodeList(this.options.supernodes, this.client, options.location, this.options.supernodeRefreshMs)
    this.memberships = new SwarmMemberships(this.client, () => void this.supernodes.refresh())
  }

  async start(): Promise<string> {
    const { server, address } = await servePieces(this)
    this.server = server
    this.address = address
    return address
  }

  /** Leaves every swarm, then stops serving and closes the storage's open files. */
  async close(): Promise<void> {
    await this.memberships.leaveAll()
    await this.server?.close()
    this.server = undefined
    await this.options.storage.close?.()
  }

  joined(taskId: string, base: string, peerId: string, secret?: string): void {
    this.memberships.join(taskId, base, peerId, secret)
  }

  /** Leaves one task's swarm (its pieces are no longer offered). */
  leave(taskId: string): Promise<void> {
    return this.memberships.leave(taskId)
  }

  /** The limits a task's transfers run under: its own (if any) under the host's. */
  limitsOf(taskId: string): Limits {
    let limits = this.taskLimits.get(taskId)
    if (!limits) {
      limits = createLimits(this.options.rateLimit, this.hostLimits)
      if (this.options.rateLimit) this.taskLimits.set(taskId, limits)
    }
    return limits
  }

  /** Bytes/s a task's downloads are held to, or 0 when unlimited. */
  downloadRate(taskId: string): number {
    return this.limitsOf(taskId).down?.effectiveRate ?? 0
  }

  outgoingHeaders(url: string): Record<string, string> {
    let headers: Record<string, string> = {}
    for (const hook of this.options.plugins.hooks) headers = { ...headers, ...hook.outgoingHeaders?.(url) }
    return headers
  }

  /** The task id a request downloads into (what `download` will use). */
  taskIdOf(request: DownloadRequest): Promise<string> {
    const expected = request.digest ? `sha256:${parseDigest(request.digest) ?? invalidDigest(request.digest)}` : undefined
    return computeTaskId({ url: request.url, filter: parseFilter(request.filter), digest: expected, tag: request.tag })
  }

  async download(request: DownloadRequest): Promise<DownloadResult> {
    const started = Date.now()
    const filter = parseFilter(request.filter)
    const expected = request.digest ? `sha256:${parseDigest(request.digest) ?? invalidDigest(request.digest)}` : undefined
    const taskId = await this.taskIdOf(request)
    const rate = request.rateLimit ?? this.options.rateLimit
    if (rate) this.taskLimits.set(taskId, createLimits(rate, this.hostLimits))
    const stats: DownloadStats = { bytesFromPeers: 0, bytesFromSupernode: 0, bytesFromSource: 0, wireBytes: 0, piecesFromPeers: 0, piecesFromSupernode: 0 }
    let supernode: string | null = null
    let task: LocalTask | undefined
    let lastError: DragonflyError | undefined
    let announced: string | undefined
    // Pieces a previous run left on disk: checked when loaded, and the whole content is hashed from disk at the end.
    let fromDisk = false
    const snapshot = () => this.tasks.get(taskId)
    const progress = throttleProgress(request.onProgress, () => progressOf(taskId, snapshot(), stats, started), request.progressIntervalMs)
    // Each supernode gets one try, and a second one when it forgot us; the list may grow as the cluster answers.
    const failed = new Set<string>()
    const forgot = new Set<string>()
    // Where this download is registered: only a registered peer's report of going to the source counts.
    const registrations = new Map<string, RegisterResponse>()
    if (this.options.supernodes.length > 0) await this.supernodes.refresh()
    for (;;) {
      const base = this.supernodes.current().find((b) => !failed.has(b))
      if (base === undefined) break
      try {
        const previous = task ?? (await this.resume(taskId))
        if (!task && previous && previous.have.count > 0) fromDisk = true
        const registration = await registerDownload(
          this.client,
          base,
          { url: request.url, headers: request.headers, filter, digest: expected, tag: request.tag },
          { address: this.address, location: this.options.location, hostname: this.options.hostname, slots: this.options.uploadSlots },
          previous,
        )
        registrations.set(base, registration)
        if (Array.isArray(registration.supernodes)) this.supernodes.learn(registration.supernodes)
        task = this.adopt(taskId, createPieceLayout(registration.contentLength, registration.pieceSize), previous, accessOf(taskId, registration, previous))
        await ensureSpace(this.options.storage, bytesMissing(task), request.url)
        supernode = base
        progress.tick()
        announced = await runSwarmDownload({
          host: this,
          base,
          registration,
          task,
          stats,
          request,
          hashWhole: expected !== undefined || fromDisk,
          progress: progress.tick,
        })
        break
      } catch (error) {
        // The supernode forgot us (took us for dead, or restarted): register again, once.
        const forgotten = isDragonflyError(error) && (error.code === 'E_UNKNOWN_PEER' || error.code === 'E_UNKNOWN_TASK') && !forgot.has(base)
        if (!forgotten && !isSupernodeDown(error)) {
          await this.persist(taskId, request.url)
          throw error
        }
        if (forgotten) forgot.add(base)
        else {
          failed.add(base)
          await this.supernodes.refresh(true)
        }
        lastError = error as DragonflyError
        supernode = null
      }
    }
    let usedSource = false
    let sourceReason: string | undefined
    if (!task?.have.complete) {
      if (this.options.backSource === false) {
        await this.persist(taskId, request.url)
        throw createError(
          'E_NO_SUPERNODE',
          `no supernode could serve ${request.url}${failed.size ? ` (tried ${[...failed].join(', ')}; last: ${lastError?.message})` : ''} and back-to-source is off`,
          { cause: lastError },
        )
      }
      task = await backToSource({ host: this, taskId, request, task, stats, progress: progress.tick })
      usedSource = true
      sourceReason =
        failed.size > 0
          ? `no supernode answered (tried ${[...failed].join(', ')}; ${lastError?.message ?? 'unreachable'})`
          : this.options.supernodes.length === 0
            ? 'no supernode configured'
            : 'no supernode was reachable'
      await reportBackToSource(this.client, registrations, request.url, stats.bytesFromSource)
    }
    // Every piece was verified as it was written in this run, so the supernode's whole-content digest holds
    // for the bytes on disk; it is recomputed from them when the user named another, after going to the
    // source, or when pieces came from an earlier run's disk.
    let digest = !usedSource && !expected && !fromDisk ? announced : undefined
    if (!digest) {
      await task.digest.advance(task.have)
      digest = (await task.digest.digest()) ?? undefined
    }
    if (!digest) throw createError('E_INTERNAL', 'download ended with pieces missing')
    const want = expected ?? announced
    if (want && want !== digest) {
      await this.discard(taskId)
      throw createError('E_DIGEST_MISMATCH', `downloaded content is ${digest}, expected ${want}`)
    }
    await this.persist(taskId, request.url)
    progress.flush()
    return {
      taskId,
      storageKey: taskId,
      bytes: task.layout.contentLength,
      pieces: task.layout.pieceCount,
      durationMs: Date.now() - started,
      digest,
      supernode,
      backToSource: usedSource,
      ...(sourceReason ? { sourceReason } : {}),
      ...stats,
    }
  }

  /** Forgets a task and its bytes (after `get` exported the file, or on a bad digest). */
  async discard(taskId: string): Promise<void> {
    await this.leave(taskId)
    this.tasks.delete(taskId)
    this.taskLimits.delete(taskId)
    this.progress.notify(taskId)
    await this.options.storage.remove(taskId)
  }

  /** Registers a task's layout; keeps verified pieces of a previous run when the layout agrees. */
  adopt(taskId: string, layout: PieceLayout, previous?: LocalTask, access: TaskAccess = {}): LocalTask {
    const same = previous && previous.layout.contentLength === layout.contentLength && previous.layout.pieceSize === layout.pieceSize
    const have = same ? previous.have : new Bitset(layout.pieceCount)
    const digest = same ? previous.digest : newTaskDigest(this.options.storage, this.options.createHash, taskId, layout)
    const task: LocalTask = { taskId, layout, have, digest, pieceDigests: same ? previous.pieceDigests : [], ...access }
    this.tasks.set(taskId, task)
    this.progress.notify(taskId)
    return task
  }

  /** Saves which pieces are verified, so an interrupted download resumes. */
  async persist(taskId: string, url: string): Promise<void> {
    const task = this.tasks.get(taskId)
    if (task) await saveTaskState(this.options.storage, task, url)
  }

  private async resume(taskId: string): Promise<LocalTask | undefined> {
    return this.tasks.get(taskId) ?? (await loadTaskState(this.options.storage, this.options.createHash, taskId))
  }
}

export function createPeer(options: PeerOptions): Peer {
  return new Peer(options)
}

function invalidDigest(value: string): never {
  throw createError('E_BAD_ARGUMENT', `digest must be sha256:<64 hex chars>, got ${JSON.stringify(value)}`)
}
