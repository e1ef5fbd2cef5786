import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import Redis from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { redisForFile } from '../helpers/redis.ts'

const DIST = resolve(import.meta.dirname, '../../dist')
const SIZE = 12 * 1024 * 1024
/** storage-unstorage's default block size. */
const BLOCK = 128 * 1024

const redis = redisForFile()
afterAll(() => killAll())

interface GetJson {
  bytes: number
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
}

it('supernode + 2 gets as processes, every cache on Redis through storage-unstorage in dragonfly.config.ts; a restarted supernode serves from Redis; so does a daemon', async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, SIZE)
  const expected = await sha256File(file)
  // The one line a user writes, with the node's own key prefix from the environment.
  await writeFile(
    join(dir, 'dragonfly.config.ts'),
    [
      `import storageUnstorage from ${JSON.stringify(join(DIST, 'plugins/storage-unstorage.mjs'))}`,
      `export default { plugins: [storageUnstorage({ driver: 'redis', options: { url: ${JSON.stringify(redis.server.url)} }, base: process.env.DF_BASE })] }`,
    ].join('\n'),
  )
  const origin = await startOrigin(file, { rate: 24 * 1024 * 1024 })
  const node = (base: string) => ({ ...process.env, DF_BASE: base })
  // Every key each process touches, by its `<base>:<namespace>` prefix.
  await redis.client.config('SET', 'notify-keyspace-events', 'KA')
  const events = new Redis(redis.server.url)
  const prefixes = new Set<string>()
  events.on('pmessage', (_pattern: string, channel: string) => prefixes.add(channel.split(':').slice(1, 3).join(':')))
  await events.psubscribe('__keyspace@0__:*')
  let supernode = await startSupernode(join(dir, 'sn'), ['--config', join(dir, 'dragonfly.config.ts')], node('sn'))
  try {
    const get = (name: string) =>
      dragonfly(['get', origin.url(), '-o', join(dir, name), '--supernode', supernode.url, '--home', join(dir, `h-${name}`), '--json'], {
        cwd: dir,
        env: node(name),
      })
    const runs = [get('a'), get('b')]
    expect(await Promise.all(runs.map((r) => r.done)), runs.map((r) => r.stderr).join('\n')).toEqual([0, 0])
    for (const [i, name] of ['a', 'b'].entries()) {
      expect(await sha256File(join(dir, name))).toBe(expected)
      const out = parseJsonLine<GetJson>(runs[i]!.stdout)
      expect(out).toMatchObject({ bytes: SIZE, bytesFromSource: 0 })
      expect(out.bytesFromPeers + out.bytesFromSupernode).toBe(SIZE)
    }
    expect(origin.bytes).toBeLessThanOrEqual(SIZE * 1.01)
    expect([...prefixes].filter((p) => /^(sn|a|b):/.test(p)).sort()).toEqual(['a:peer', 'b:peer', 'sn:cdn'])
    expect(existsSync(join(dir, 'h-a', 'peer')) || existsSync(join(dir, 'sn', 'cdn'))).toBe(false)

    // The supernode's cache is in Redis: blocks of the file (the default size, 128 KiB) plus its metadata. The gets exported theirs and removed it.
    const [taskKey] = await redis.client.keys('sn:cdn:meta:*')
    const taskId = taskKey!.split(':').pop()!
    expect(await redis.client.keys(`sn:cdn:data:${taskId}:*`)).toHaveLength(SIZE / BLOCK)
    expect(await redis.client.keys('a:peer:data:*')).toEqual([])
    expect(await redis.client.keys('b:peer:data:*')).toEqual([])

    // Restarted with nothing on its disk, the supernode finds the task in Redis: the third get costs the origin no body bytes.
    await supernode.stop()
    const bodyBytes = origin.bytes
    supernode = await startSupernode(join(dir, 'sn-restarted'), ['--config', join(dir, 'dragonfly.config.ts')], node('sn'))
    const again = get('c')
    expect(await again.done, again.stderr).toBe(0)
    expect(await sha256File(join(dir, 'c'))).toBe(expected)
    expect(origin.bytes).toBe(bodyBytes)

    // A daemon keeps its cache there too, and streams the content from it.
    const daemonConfig = join(dir, 'daemon.config.mjs')
    await writeFile(
      daemonConfig,
      [
        `import storageUnstorage from ${JSON.stringify(join(DIST, 'plugins/storage-unstorage.mjs'))}`,
        `export default { plugins: [storageUnstorage({ driver: 'redis', options: { url: ${JSON.stringify(redis.server.url)} }, base: 'd' })] }`,
      ].join('\n'),
    )
    const daemon = await startDaemon(join(dir, 'daemon'), supernode.url, ['--config', daemonConfig])
    try {
      const response = await fetch(`${daemon.url}${DAEMON_ROUTES.download}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: origin.url() }),
      })
      expect(response.status).toBe(200)
      expect(
        createHash('sha256')
          .update(new Uint8Array(await response.arrayBuffer()))
          .digest('hex'),
      ).toBe(expected)
      expect(await redis.client.keys(`d:peer:data:${taskId}:*`)).toHaveLength(SIZE / BLOCK)
      expect(existsSync(join(dir, 'daemon', 'peer'))).toBe(false)
    } finally {
      await daemon.stop()
    }
  } finally {
    events.disconnect()
    await supernode.stop()
    await origin.close()
  }
})
