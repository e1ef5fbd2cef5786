import { Hono } from 'hono'
import { createError, toErrorResponse } from './errors.ts'
import { type PieceLayout, pieceRange } from './piece-layout.ts'
import type { StorageDriver } from './storage.ts'
import { TASK_ID_RE } from './task-id.ts'

export interface ServedTask {
  layout: PieceLayout
  storage: StorageDriver
  /** Only verified pieces are served. */
  has(piece: number): boolean
}

export interface PieceServerOptions {
  lookup(taskId: string): ServedTask | undefined
  /** Called after a piece body was handed to the transport. */
  onServed?(taskId: string, piece: number, bytes: number): void
}

/**
 * `GET /pieces/:taskId/:piece` — the piece transfer endpoint, the same on a
 * supernode and on every peer. The body is the piece's original bytes; the
 * receiver checks them against the digest the supernode gave it.
 */
export function createPieceRoutes(options: PieceServerOptions): Hono {
  const app = new Hono()
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
    options.onServed?.(taskId, piece, bytes.byteLength)
    return c.body(bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(bytes.byteLength),
    })
  })
  app.onError((error) => toErrorResponse(error))
  return app
}
