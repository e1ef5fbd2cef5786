import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { pieceUrl, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { CAPABILITY_HEADER } from '../../core/transfer/capability.ts'
import { killAll, randomFile, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { startRedis } from '../helpers/redis.ts'

afterAll(() => killAll())

const SECRET = 'Bearer s3cret'

it("a private task's capability issued by supernode A opens supernode B's piece route, and nothing else does", async () => {
  const dir = await tempDir()
  const redis = await startRedis(dir)
  const origin = await startOrigin(await randomFile(dir, 2 * 1024 * 1024), { auth: SECRET })
  const [a, b] = await Promise.all(['a', 'b'].map((n) => startSupernode(join(dir, n), ['--cluster', redis.url])))
  try {
    const register = async (base: string) => {
      const res = await fetch(`${base}${SUPERNODE_ROUTES.register}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ url: origin.url(), headers: { authorization: SECRET }, peer: { address: 'http://127.0.0.1:9' } }),
      })
      expect(res.status).toBe(200)
      return (await res.json()) as { taskId: string; capability: string; capabilityKey: string }
    }
    const atA = await register(a!.url)
    const atB = await register(b!.url)
    // One key for the task across the cluster, shared through the cluster store.
    expect(atB.capabilityKey).toBe(atA.capabilityKey)

    // B copies the pieces from A (whose piece route wants B's capability too); A's capability opens B's route.
    const deadline = Date.now() + 20_000
    let status = 0
    for (; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const res = await fetch(pieceUrl(b!.url, atA.taskId, 0), { headers: { [CAPABILITY_HEADER]: atA.capability } })
      status = res.status
      await res.arrayBuffer()
      if (status !== 404) break
    }
    expect(status).toBe(200)
    // The attack: B's piece route without a capability, or with a forged one.
    for (const headers of [{} as Record<string, string>, { [CAPABILITY_HEADER]: `x.${Math.floor(Date.now() / 1000) + 60}.${'0'.repeat(64)}` }]) {
      const res = await fetch(pieceUrl(b!.url, atA.taskId, 0), { headers })
      expect(res.status).toBe(403)
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_FORBIDDEN')
    }
  } finally {
    await Promise.all([a?.stop(), b?.stop()])
    await origin.close()
    await redis.stop()
  }
})
