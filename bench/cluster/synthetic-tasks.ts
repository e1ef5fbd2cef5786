import { createHash } from 'node:crypto'
import type { SharedMember, SharedTask } from '../../core/contract/cluster-store.ts'
import type { BenchRedis } from './redis-server.ts'

/**
 * Writes `count` complete tasks the way a supernode publishes them (record,
 * one piece digest, its member set), as if held by a supernode that does not
 * run: the cluster's store then carries the bench's size without preheating
 * every file. Keys follow plugins/cluster-redis with the default prefix.
 */
export async function writeSyntheticTasks(redis: BenchRedis, count: number, holder: { id: string; url: string }): Promise<void> {
  const day = String(86_400_000)
  const commands: string[][] = []
  for (let i = 0; i < count; i++) {
    const taskId = hex(`synthetic-task-${i}`)
    const record: SharedTask = {
      url: `http://synthetic.invalid/blob/${i}`,
      contentLength: 4096,
      pieceSize: 4096,
      complete: true,
      digest: `sha256:${hex(`content-${i}`)}`,
    }
    const member: SharedMember = { address: holder.url, slots: 8, have: 'gA==' }
    commands.push(
      ['SET', `dragonfly:task:${taskId}`, JSON.stringify(record), 'PX', day],
      ['HSET', `dragonfly:digests:${taskId}`, '0', hex(`content-${i}`)],
      ['HSET', `dragonfly:members:${taskId}:${holder.id}`, `sn:${holder.id}`, JSON.stringify(member)],
    )
    if (commands.length >= 30_000) await redis.pipeline(commands.splice(0))
  }
  await redis.pipeline(commands)
}

function hex(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}
