import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { startRedis } from '../helpers/redis.ts'
import { startTcpRelay } from '../helpers/tcp-relay.ts'

afterAll(() => killAll())

const listed = async (supernode: string): Promise<string[]> =>
  ((await (await fetch(`${supernode}${SUPERNODE_ROUTES.supernodes}`)).json()) as { supernodes: { url: string }[] }).supernodes.map((s) => s.url).sort()

// The advertised URL is a relay of the test's own in front of supernode A: the cluster, and everyone it tells,
// must reach A there and not at the address A listens on.
it('--advertise: the cluster lists a supernode by its advertised URL, and the others reach it there', async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 8 * 1024 * 1024)
  const origin = await startOrigin(file)
  const redis = await startRedis(dir)
  const target = { host: '127.0.0.1', port: 0 }
  const relay = await startTcpRelay(target)
  try {
    const a = await startSupernode(join(dir, 'a'), ['--cluster', redis.url, '--location', 'r0', '--advertise', relay.url])
    target.port = Number(new URL(a.url).port)
    const b = await startSupernode(join(dir, 'b'), ['--cluster', redis.url, '--location', 'r1'])
    // Without --advertise a supernode is listed at its listening address (the control).
    const expected = [relay.url, b.url].sort()
    await expect.poll(() => listed(b.url), { timeout: 30_000, interval: 100 }).toEqual(expected)
    // Each supernode learns the others on its own heartbeat: A's list may come a beat after B's.
    await expect.poll(() => listed(a.url), { timeout: 30_000, interval: 100 }).toEqual(expected)

    // A fetches the source; B, asked by a peer given only B, copies A's pieces through the advertised URL.
    const get = (name: string, supernode: string) =>
      dragonfly([
        'get',
        origin.url(),
        '-o',
        join(dir, name),
        '--home',
        join(dir, `h-${name}`),
        '--supernode',
        supernode,
        '--no-back-source',
        '--daemon',
        'off',
        '--json',
      ])
    // A preheat, not a get: no peer holds the file afterwards, so B can only copy it from A, at the advertised URL.
    const before = relay.connections
    const first = dragonfly(['preheat', origin.url(), '--supernode', a.url, '--json'])
    expect(await first.done, first.stderr).toBe(0)
    const second = get('second', b.url)
    expect(await second.done, second.stderr).toBe(0)
    expect(await sha256File(join(dir, 'second'))).toBe(await sha256File(file))
    expect(parseJsonLine<{ backToSource: boolean }>(second.stdout).backToSource).toBe(false)
    expect(origin.bytes).toBe(8 * 1024 * 1024)
    expect(relay.connections).toBeGreaterThan(before)
    await Promise.all([a.stop(), b.stop()])
  } finally {
    await relay.close()
    await redis.stop()
    await origin.close()
  }
})
