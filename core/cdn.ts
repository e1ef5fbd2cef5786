import type { CreateHash } from './digest.ts'
import { sha256Hex } from './digest.ts'
import { createError, type DragonflyError, toDragonflyError } from './errors.ts'
import { createPieceLayout, type PieceLayout, pieceRange } from './piece-layout.ts'
import type { PluginSet } from './plugin.ts'
import { fetchSource, sourceStatusError } from './source.ts'
import type { StorageDriver } from './storage.ts'
import { Swarm, type SwarmOptions } from './swarm.ts'
import { contentLengthOf, cutIntoPieces, rangeContinues } from './piece-cutter.ts'
import { computeTaskId, normalizeTaskUrl, parseFilter, type TaskIdentity } from './task-id.ts'

/** What the CDN keeps on disk beside a task's bytes. */
export interface CdnMeta {
  url: string
  contentLength: number
  pieceSize: number
  /** Piece digests, in order, for the pieces stored so far. */
  digests: string[]
  complete: boolean
  /** `sha256:<hex>` of the whole content, once complete. */
  digest?: string
  etag?: string
  lastModified?: string
  updatedAt: number
}

export interface CdnTask {
  taskId: string
  url: string
  layout: PieceLayout
  swarm: Swarm
  /** Set when the source fetch failed; pullers get it. */
  error?: DragonflyError
  complete: boolean
  digest?: string
  bytesFromSource: number
  createdAt: number
  lastUsed: number
}

export interface TaskRequest extends Omit<TaskIdentity, 'filter'> {
  filter?: string | string[]
  headers?: Record<string, string>
}

export interface CdnOptions {
  plugins: PluginSet
  storage: StorageDriver
  createHash: CreateHash
  swarm?: Partial<SwarmOptions>
  /** How long a failed source answer (404, 401, unreachable) is remembered. */
  failureTtlMs?: number
  /** Pieces buffered between the source reader and storage. */
  writeAhead?: number
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
  readonly isolatedAddresses = new Set<string>()
  private readonly options: CdnOptions
  private readonly aborter = new AbortController()

  constructor(options: CdnOptions) {
    this.options = options
  }

  /** The task for this request, starting the source fetch if nobody has. Resolves once the layout is known. */
  async ensure(request: TaskRequest): Promise<CdnTask> {
    const filter = parseFilter(request.filter)
    const taskId = await computeTaskId({ url: request.url, digest: request.digest, tag: request.tag, filter })
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
      throw toDragonflyError(error, 'E_SOURCE_UNREACHABLE')
    })
    entry.ready.catch(() => {})
    this.tasks.set(taskId, entry)
    return entry.ready
  }

  get(taskId: string): CdnTask | undefined {
    return this.tasks.get(taskId)?.task
  }

  close(): void {
    this.aborter.abort()
    for (const entry of this.tasks.values()) entry.task?.swarm.changed()
  }

  private async start(taskId: string, request: TaskRequest, entry: Entry): Promise<CdnTask> {
    const { storage } = this.options
    const url = normalizeTaskUrl(request.url, parseFilter(request.filter))
    const meta = await storage.getMeta<CdnMeta>(taskId).catch(() => null)
    if (meta?.complete && meta.url === url && meta.digests.length === createPieceLayout(meta.contentLength, meta.pieceSize).pieceCount) {
      const task = this.createTask(taskId, url, createPieceLayout(meta.contentLength, meta.pieceSize))
      meta.digests.forEach((d, n) => task.swarm.seedPiece(n, d))
      task.complete = true
      task.digest = meta.digest
      entry.task = task
      return task
    }
    const resumeFrom = meta && meta.url === url && !meta.complete && meta.digests.length > 0 && (meta.etag || meta.lastModified) ? meta : null
    const offset = resumeFrom ? resumeFrom.digests.length * resumeFrom.pieceSize : 0
    const response = await fetchSource(this.options.plugins, {
      url: request.url,
      headers: request.headers ?? {},
      ...(resumeFrom ? { range: { start: offset }, validators: { etag: resumeFrom.etag, lastModified: resumeFrom.lastModified } } : {}),
      signal: this.aborter.signal,
    })
    const resumed = resumeFrom !== null && response.status === 206 && rangeContinues(response, offset, resumeFrom.contentLength) !== null
    if (response.status !== 200 && !resumed) {
      await response.body?.cancel().catch(() => {})
      throw sourceStatusError(request.url, response.status)
    }
    const length = resumed ? resumeFrom!.contentLength : contentLengthOf(response)
    if (length === null) {
      await response.body?.cancel().catch(() => {})
      throw createError('E_SOURCE_STATUS', `source gave no Content-Length for ${request.url}; chunked sources are not supported yet`)
    }
    const layout = createPieceLayout(length, resumed ? resumeFrom!.pieceSize : undefined)
    const task = this.createTask(taskId, url, layout)
    const next: CdnMeta = {
      url,
      contentLength: length,
      pieceSize: layout.pieceSize,
      digests: resumed ? resumeFrom!.digests : [],
      complete: false,
      etag: response.headers.get('etag') ?? resumeFrom?.etag ?? undefined,
      lastModified: response.headers.get('last-modified') ?? resumeFrom?.lastModified ?? undefined,
      updatedAt: Date.now(),
    }
    next.digests.forEach((d, n) => task.swarm.seedPiece(n, d))
    entry.task = task
    this.ingest(task, response, next, request.digest).catch((error) => {
      task.error = toDragonflyError(error, 'E_SOURCE_UNREACHABLE')
      entry.failedAt = Date.now()
      task.swarm.changed()
    })
    return task
  }

  private createTask(taskId: string, url: string, layout: PieceLayout): CdnTask {
    const now = Date.now()
    return {
      taskId,
      url,
      layout,
      swarm: new Swarm(taskId, layout, this.options.swarm, this.isolatedAddresses),
      complete: false,
      bytesFromSource: 0,
      createdAt: now,
      lastUsed: now,
    }
  }

  /** Reads the source body, piece by piece: hash, store, seed. */
  private async ingest(task: CdnTask, response: Response, meta: CdnMeta, expectedDigest?: string): Promise<void> {
    const { storage } = this.options
    const { layout } = task
    const resumedPieces = meta.digests.length
    const fileHash = this.options.createHash()
    for (let n = 0; n < resumedPieces; n++) {
      const r = pieceRange(layout, n)
      fileHash.update(await storage.readAt(task.taskId, r.start, r.length))
    }
    await storage.setMeta(task.taskId, meta)
    const pending: Promise<void>[] = []
    const writeAhead = this.options.writeAhead ?? 3
    const saveProgress = (): Promise<void> => storage.setMeta(task.taskId, { ...meta, digests: contiguous(meta.digests), updatedAt: Date.now() })
    try {
      await cutIntoPieces(response.body, {
        layout,
        firstPiece: resumedPieces,
        url: task.url,
        onBytes: (n) => (task.bytesFromSource += n),
        onPiece: async (n, bytes) => {
          fileHash.update(bytes)
          pending.push(
            (async () => {
              const digest = await sha256Hex(bytes)
              await storage.writeAt(task.taskId, pieceRange(layout, n).start, bytes)
              meta.digests[n] = digest
              task.swarm.seedPiece(n, digest)
            })(),
          )
          if (pending.length >= writeAhead) await pending.shift()
          if (n % 16 === 15) await saveProgress()
        },
      })
    } finally {
      await Promise.allSettled(pending)
      await saveProgress().catch(() => {})
    }
    await Promise.all(pending)
    const digest = `sha256:${fileHash.digest()}`
    if (expectedDigest && expectedDigest.toLowerCase() !== digest) {
      await storage.remove(task.taskId)
      throw createError('E_DIGEST_MISMATCH', `source content of ${task.url} is ${digest}, expected ${expectedDigest}`)
    }
    meta.complete = true
    meta.digest = digest
    meta.updatedAt = Date.now()
    await storage.setMeta(task.taskId, meta)
    task.digest = digest
    task.complete = true
    task.swarm.changed()
  }
}

function contiguous(digests: string[]): string[] {
  const out: string[] = []
  for (const d of digests) {
    if (d === undefined) break
    out.push(d)
  }
  return out
}
