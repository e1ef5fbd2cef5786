import { Hono } from 'hono'
import { createError, toErrorResponse } from './errors.ts'
import { type PieceLayout, pieceRange } from './piece-layout.ts'
import { ACCEPT_CODING_HEADER, CODING_HEADER, createPieceEncoder, parseAcceptCoding } from './piece-coding.ts'
import type { PluginHooks, PieceTransform } from './plugin.ts'
import { limitedBody, type RateLimiter } from './rate-limit.ts'
import { checkRequests } from './request-check.ts'
import type { StorageDriver } from './storage.ts'
import { TASK_ID_RE } from './task-id.ts'

export interface ServedTask {
  layout: PieceLayout
  storage: StorageDriver
  /** Only verified pieces are served. */
  has(piece: number): boolean
  /** The piece's digest, when known: keys the cache of compressed pieces so replaced content is never served stale. */
  digest?(piece: number): string | undefined
  /** Paces this task's uploads (`--rate-limit` under `--total-limit`). */
  limiter?: RateLimiter
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
  if (options.hooks) app.use('/pieces/*', checkRequests(options.hooks))
  app.get('/pieces/:taskId/:piece', async (c) => {
    const { taskId, piece: raw } = c.req.param()
    if (!TASK_ID_RE.test(taskId)) throw createError('E_BAD_REQUEST', 'task id must be 64 lower-case hex characters')
    if (!/^\d{1,9}$/.test(raw)) throw createError('E_BAD_REQUEST', 'piece must be a non-negative integer')
    const piece = Number(raw)
    const task = options.lookup(taskId)
    if (!task) throw createError('E_UNKNOWN_TASK', `no task ${taskId} here`)
    if (piece >= task.layout.pieceCount) throw createError('E_PIECE_NOT_FOUND', `task has ${task.layout.pieceCount} pieces, no piece ${piece}`)
    if (!task.has(piece)) throw createError('E_PIECE_NOT_FOUND', `piece ${piece} is not here yet`)
    const range = pieceRange(task.layout, piece)
    const bytes = await task.storage.readAt(taskId, range.start, range.length)
    const accept = parseAcceptCoding(c.req.header(ACCEPT_CODING_HEADER))
    const { body, coding } = await encoder.encode(bytes, { taskId, piece, version: task.digest?.(piece) }, accept)
    options.onServed?.(taskId, piece, body.byteLength)
    return c.body(task.limiter ? limitedBody(body, task.limiter) : (body as Uint8Array<ArrayBuffer>), 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.byteLength),
      [CODING_HEADER]: coding,
      vary: ACCEPT_CODING_HEADER,
    })
  })
  app.onError((error) => toErrorResponse(error))
  return app
}
