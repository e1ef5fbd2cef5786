import { Hono } from 'hono'
import { createError } from '../errors.ts'
import { SUPERNODE_ROUTES } from '../protocol/routes.ts'
import type { BandwidthHistory, BandwidthSeries } from './bandwidth.ts'

export interface BandwidthRoutesOptions {
  history: BandwidthHistory
  /** Whether the supernode knows this task (only known tasks have a series to ask for). */
  knows(taskId: string): boolean
}

/** `GET /api/v1/bandwidth` and `GET /api/v1/tasks/:taskId/bandwidth`: bytes per step, oldest first, by flow. */
export function createBandwidthRoutes(options: BandwidthRoutesOptions): Hono {
  const app = new Hono()
  app.get(SUPERNODE_ROUTES.bandwidth, (c) => c.json<BandwidthSeries>(options.history.series(undefined, Date.now())))
  app.get(SUPERNODE_ROUTES.taskBandwidth, (c) => {
    const taskId = c.req.param('taskId')
    if (!options.knows(taskId)) throw createError('E_UNKNOWN_TASK', `no task ${taskId}`)
    return c.json<BandwidthSeries>(options.history.series(taskId, Date.now()))
  })
  return app
}
