import type { PluginSet } from '../contract/plugin.ts'
import type { ServeFn, ServerHandle } from '../contract/serve.ts'
import type { StorageDriver } from '../contract/storage.ts'
import { createPieceRoutes } from '../transfer/piece-server.ts'
import type { Limits } from '../transfer/rate-limit.ts'
import type { LocalTask } from './peer-tasks.ts'
import type { TaskProgress } from './task-progress.ts'

/** What a peer's piece server reads of the peer: its tasks, their progress and limits, and where to listen. */
export interface PieceServingHost {
  readonly tasks: ReadonlyMap<string, LocalTask>
  readonly progress: Pick<TaskProgress, 'watch'>
  limitsOf(taskId: string): Limits
  readonly options: {
    plugins: Pick<PluginSet, 'transforms' | 'hooks'>
    storage: StorageDriver
    serve: ServeFn
    port?: number
    /** The host other peers reach this one at. @default 127.0.0.1 */
    advertiseHost?: string
    listenHost?: string
    onServed?: (taskId: string, piece: number, bytes: number) => void
  }
}

/**
 * Starts the piece server of a peer: every verified piece of its tasks, and
 * their piece maps, to whoever passes the request checks and (for a private
 * task) shows a capability; a task fetched privately with no supernode
 * vouching for anyone (`closed`) to nobody. Returns the server and the
 * address the supernode is told.
 */
export async function servePieces(host: PieceServingHost): Promise<{ server: ServerHandle; address: string }> {
  const { options } = host
  const routes = createPieceRoutes({
    lookup: (taskId) => {
      const task = host.tasks.get(taskId)
      if (!task || task.closed) return undefined
      return {
        layout: task.layout,
        storage: options.storage,
        has: (n) => task.have.has(n),
        held: () => task.have,
        changed: (signal) => host.progress.watch(taskId, signal).changed,
        limiter: host.limitsOf(taskId).up,
        gate: task.gate,
      }
    },
    transforms: options.plugins.transforms,
    hooks: options.plugins.hooks,
    onServed: options.onServed,
  })
  const advertised = options.advertiseHost ?? '127.0.0.1'
  const server = await options.serve(routes.fetch, { port: options.port ?? 0, hostname: options.listenHost ?? advertised })
  return { server, address: `http://${advertised.includes(':') ? `[${advertised}]` : advertised}:${server.port}` }
}
