import { Hono } from 'hono'
import type { PieceTransform, PluginHooks } from '../contract/plugin.ts'
import type { ServeBindings } from '../contract/serve.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { createError } from '../errors.ts'
import { toErrorResponse } from '../protocol/error-body.ts'
import { ACCEPT_CODING_HEADER, CODING_HEADER, createPieceEncoder, parseAcceptCoding } from '../protocol/piece-coding.ts'
import { type PieceLayout, pieceRange } from '../protocol/piece-layout.ts'
import { PIECE_MAP_ROUTE, PIECE_ROUTE, PIECES_PATH } from '../protocol/routes.ts'
import { TASK_ID_RE } from '../protocol/task-id.ts'
import { BufferPool } from './buffer-pool.ts'
import { CAPABILITY_HEADER, type CapabilityGate } from './capability.ts'
import { HAVE_HEADER, MAX_HAVE_HEADER_PIECES } from './piece-fetch.ts'
import { NDJSON, pieceMapStream } from './piece-map-stream.ts'
import { limitedBody, type RateLimiter } from './rate-limit.ts'
import { checkRequests } from './request-check.ts'

/** Piece buffers kept for reuse between responses (more are allocated while more are being sent). */
const MAX_POOLED = 16

export interface ServedTask {
  layout: PieceLayout
  storage: StorageDriver
  /** Only verified pieces are served. */
  has(piece: number): boolean
  /** The piece's digest, when known: keys the cache of compressed pieces so replaced content is never served stale. */
  digest?(piece: number): string | undefined
  /** Every verified piece, for the piece map route (have-announcements); without it the route answers E_NOT_FOUND. */
  held?(): { count: number; toBase64(): string }
  /** Resolves at the next verified piece, or once `signal` aborts (the piece map's long-poll). */
  changed?(signal: AbortSignal): Promise<void>
  /** Paces this task's uploads (`--rate-limit` under `--total-limit`). */
  limiter?: RateLimiter
  /** A private task: its pieces and piece map go only to requests with a capability this gate accepts. */
  gate?: CapabilityGate
}

export interface PieceServerOptions {
  lookup(taskId: string): ServedTask | undefined
  /** Called after a piece body was handed to the transport, with the bytes on the wire. */
  onServed?(taskId: string, piece: number, bytes: number): void
  /** The plugins' transforms, in stage order; applied per request as the receiver accepts them. */
  transforms?: readonly PieceTransform[]
  /** Request checks (auth); omit when the enclosing app already runs them. */
  hooks?: readonly PluginHooks[]
}

/**
 * `GET /pieces/:taskId/:piece` — the piece transfer endpoint, the same on a
 * supernode and on every peer. The body is the piece's bytes encoded with the
 * transforms the receiver accepts (`x-dragonfly-coding` says which); the
 * receiver decodes, then checks them against the digest the supernode gave it.
 */
export function createPieceRoutes(options: PieceServerOptions): Hono {
  const app = new Hono()
  const encoder = createPieceEncoder(options.transforms ?? [])
  /** With no transforms every answer is the plain piece (`identity`). */
  const encodes = (options.transforms?.length ?? 0) > 0
  const pool = new BufferPool(MAX_POOLED)
  if (options.hooks) app.use(`${PIECES_PATH}/*`, checkRequests(options.hooks))
  app.get(PIECE_MAP_ROUTE, async (c) => {
    const { taskId } = c.req.param()
    if (!TASK_ID_RE.test(taskId)) throw createError('E_BAD_REQUEST', 'task id must be 64 lower-case hex characters')
    const after = queryCount(c.req.query('after'), -1, 'after')
    const wait = Math.min(queryCount(c.req.query('wait'), 0, 'wait'), MAX_MAP_WAIT_MS)
    let task = options.lookup(taskId)
    if (!task?.held) throw createError('E_UNKNOWN_TASK', `no task ${taskId} here`)
    await task.gate?.check(c.req.header(CAPABILITY_HEADER))
    if (c.req.query('stream') === '1' && task.changed) {
      const source = { pieceCount: task.layout.pieceCount, held: task.held, changed: task.changed }
      return c.body(pieceMapStream(source, after, wait, c.req.raw.signal), 200, { 'content-type': NDJSON, 'cache-control': 'no-store' })
    }
    if (task.held().count <= after && wait > 0 && task.changed) {
      // Any verified piece answers the wait; the timer and the caller's disconnect end it too.
      const stop = new AbortController()
      const timer = setTimeout(() => stop.abort(), wait)
      const onClose = (): void => stop.abort()
      c.req.raw.signal.addEventListener('abort', onClose, { once: true })
      try {
        await task.changed(stop.signal)
      } finally {
        clearTimeout(timer)
        c.req.raw.signal.removeEventListener('abort', onClose)
      }
      task = options.lookup(taskId)
      if (!task?.held) throw createError('E_UNKNOWN_TASK', `no task ${taskId} here`)
    }
    const held = task.held()
    return c.json({ count: held.count, have: held.toBase64() })
  })
  app.get(PIECE_ROUTE, async (c) => {
    const { taskId, piece: raw } = c.req.param()
    if (!TASK_ID_RE.test(taskId)) throw createError('E_BAD_REQUEST', 'task id must be 64 lower-case hex characters')
    if (!/^\d{1,9}$/.test(raw)) throw createError('E_BAD_REQUEST', 'piece must be a non-negative integer')
    const piece = Number(raw)
    const task = options.lookup(taskId)
    if (!task) throw createError('E_UNKNOWN_TASK', `no task ${taskId} here`)
    await task.gate?.check(c.req.header(CAPABILITY_HEADER))
    if (piece >= task.layout.pieceCount) throw createError('E_PIECE_NOT_FOUND', `task has ${task.layout.pieceCount} pieces, no piece ${piece}`)
    if (!task.has(piece)) throw createError('E_PIECE_NOT_FOUND', `piece ${piece} is not here yet`)
    const accept = parseAcceptCoding(c.req.header(ACCEPT_CODING_HEADER))
    const range = pieceRange(task.layout, piece)
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream', vary: ACCEPT_CODING_HEADER }
    // The piece map rides along: a child fetching from here needs no separate request to learn what is new.
    if (task.held && task.layout.pieceCount <= MAX_HAVE_HEADER_PIECES) headers[HAVE_HEADER] = task.held().toBase64()
    if (!task.limiter && !encodes && task.storage.bodyAt) {
      // Plain bytes straight from the store's file: the runtime's server sends them without a copy through JS
      // (and stops a longer stream at the Content-Length).
      const body = await task.storage.bodyAt(taskId, range.start, range.length)
      options.onServed?.(taskId, piece, range.length)
      return new Response(body, { status: 200, headers: { ...headers, 'content-length': String(range.length), [CODING_HEADER]: 'identity' } })
    }
    // Pooled memory when the runtime says when the response no longer needs it (and nothing paces the body).
    const afterResponse = (c.env as ServeBindings | undefined)?.afterResponse
    const lend = afterResponse && task.storage.readInto && !task.limiter ? pool.take(range.length) : undefined
    let bytes: Uint8Array
    let body: Uint8Array
    let coding: string
    try {
      bytes = lend ? (await task.storage.readInto!(taskId, range.start, lend), lend) : await task.storage.readAt(taskId, range.start, range.length)
      ;({ body, coding } = await encoder.encode(bytes, { taskId, piece, version: task.digest?.(piece) }, accept))
    } catch (error) {
      if (lend) pool.give(lend)
      throw error
    }
    if (lend) {
      if (coding === 'identity') afterResponse!(() => pool.give(lend))
      // A transform's output has memory of its own; one that answered with a view of its input may have cached it: not reused.
      else if (body.buffer !== lend.buffer) pool.give(lend)
    }
    options.onServed?.(taskId, piece, body.byteLength)
    headers['content-length'] = String(body.byteLength)
    headers[CODING_HEADER] = coding
    return c.body(task.limiter ? limitedBody(body, task.limiter) : (body as Uint8Array<ArrayBuffer>), 200, headers)
  })
  app.onError((error) => toErrorResponse(error))
  return app
}

/** Longest wait a piece map request may ask for. */
const MAX_MAP_WAIT_MS = 30_000

function queryCount(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined) return fallback
  if (!/^-?\d{1,9}$/.test(raw)) throw createError('E_BAD_REQUEST', `${name} must be an integer`)
  return Math.max(-1, Number(raw))
}
