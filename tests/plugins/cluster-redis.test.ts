import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import clusterRedis, { connectRedisStore } from '../../plugins/cluster-redis/index.ts'
import { testClusterStore } from '../../testing/index.ts'
import { tempDir } from '../helpers/cli.ts'
import { optionError } from '../helpers/option-error.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'
import { freePort } from '../helpers/registry.ts'

const TASK = 'b'.repeat(64)
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis(await tempDir())
})
afterAll(() => redis?.stop())

describe('cluster-redis on a real redis-server', () => {
  it('passes testClusterStore through the plugin, with the default key prefix and another', async () => {
    await testClusterStore(clusterRedis(), { url: redis.url })
    await testClusterStore(clusterRedis({ keyPrefix: 'test:', commandTimeoutMs: 2_000 }), { url: redis.url })
  })

  it('keeps clusters with different key prefixes apart; the default prefix is dragonfly:', async () => {
    const [plain, named, other] = await Promise.all([
      clusterRedis().cluster.connect(redis.url),
      connectRedisStore(redis.url, { keyPrefix: 'dragonfly:' }),
      clusterRedis({ keyPrefix: 'other:' }).cluster.connect(redis.url),
    ])
    try {
      expect(await plain.acquireLease(TASK, 'a', 10_000)).toBe(true)
      expect(await named.leaseOwner(TASK)).toBe('a')
      expect(await other.leaseOwner(TASK)).toBeNull()
      expect(await other.acquireLease(TASK, 'b', 10_000)).toBe(true)
      // The prefix core passes to connect() wins over the plugin's.
      const passed = await clusterRedis({ keyPrefix: 'other:' }).cluster.connect(redis.url, { keyPrefix: 'dragonfly:' })
      expect(await passed.leaseOwner(TASK)).toBe('a')
      await passed.close()
    } finally {
      await Promise.all([plain.releaseLease(TASK, 'a'), other.releaseLease(TASK, 'b')])
      await Promise.all([plain.close(), named.close(), other.close()])
    }
  })

  it('an ACL user and password in the URL: the conformance checks pass; a wrong password is E_CLUSTER and never printed', async () => {
    const acl = await startRedis(await tempDir(), { args: ['--user', 'app', 'on', '>s3cret', '~*', '&*', '+@all', '--user', 'default', 'off'] })
    try {
      await testClusterStore(clusterRedis(), { url: `redis://app:s3cret@127.0.0.1:${acl.port}` })
      const refused = await connectRedisStore(`redis://app:wrong-pass@127.0.0.1:${acl.port}`, { commandTimeoutMs: 2_000 }).catch((e: Error) => e)
      expect(refused).toMatchObject({ code: 'E_CLUSTER', message: expect.stringContaining(`redis://app:***@127.0.0.1:${acl.port}`) })
      expect((refused as Error).message).not.toContain('wrong-pass')
    } finally {
      await acl.stop()
    }
  })

  it('rediss:// with a private CA given as tlsCa passes the conformance checks; without it the certificate is refused', async () => {
    const dir = await tempDir()
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')]
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    )
    const tlsPort = await freePort()
    const server = await startRedis(dir, {
      args: ['--tls-port', String(tlsPort), '--tls-cert-file', cert, '--tls-key-file', key, '--tls-ca-cert-file', cert, '--tls-auth-clients', 'no'],
    })
    try {
      const url = `rediss://127.0.0.1:${tlsPort}`
      await testClusterStore(clusterRedis({ tlsCa: await readFile(cert, 'utf8') }), { url })
      await expect(clusterRedis({ commandTimeoutMs: 2_000 }).cluster.connect(url)).rejects.toMatchObject({
        code: 'E_CLUSTER',
        message: expect.stringMatching(/certificate/i),
      })
    } finally {
      await server.stop()
    }
  })

  it('tells another connection of a change, and reports the connection lost and back when redis-server restarts', async () => {
    const dir = await tempDir()
    let own = await startRedis(dir)
    const [a, b] = await Promise.all([connectRedisStore(own.url), connectRedisStore(own.url)])
    try {
      const heard: string[] = []
      await b.subscribe!((taskId, from) => heard.push(`${from} ${taskId}`))
      await a.notify!(TASK, 'sn-a')
      await expect.poll(() => heard).toContain(`sn-a ${TASK}`)
      const states: boolean[] = []
      a.onConnection!((up) => states.push(up))
      await own.stop()
      await expect.poll(() => states, { timeout: 10_000 }).toContain(false)
      await expect(a.getTask(TASK)).rejects.toMatchObject({ code: 'E_CLUSTER' })
      own = await startRedis(dir, { port: own.port })
      await expect.poll(() => states.at(-1), { timeout: 10_000 }).toBe(true)
      expect(await a.getTask(TASK)).toBeNull()
      // The subscription survives the restart.
      await a.notify!(TASK, 'sn-again')
      await expect.poll(() => heard, { timeout: 5_000 }).toContain(`sn-again ${TASK}`)
    } finally {
      await Promise.all([a.close(), b.close()])
      await own.stop()
    }
  })

  it('an unreachable Redis is a clear E_CLUSTER error', async () => {
    const port = await freePort()
    await expect(clusterRedis({ commandTimeoutMs: 1_000 }).cluster.connect(`redis://127.0.0.1:${port}`)).rejects.toMatchObject({
      code: 'E_CLUSTER',
      message: expect.stringContaining(`cannot connect to the cluster store redis://127.0.0.1:${port}`),
    })
  })

  it('a server that accepts but never answers fails the connection with E_CLUSTER after commandTimeoutMs', async () => {
    const sockets: Socket[] = []
    const silent = createServer((socket) => void sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const url = `redis://127.0.0.1:${(silent.address() as { port: number }).port}`
    try {
      const started = Date.now()
      await expect(clusterRedis({ commandTimeoutMs: 300 }).cluster.connect(url)).rejects.toMatchObject({
        code: 'E_CLUSTER',
        message: `cannot connect to the cluster store ${url}: no answer in 300 ms`,
      })
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  it('refuses misspelt and mistyped options when the config loads, before any connection', () => {
    expect(optionError(() => clusterRedis({ prefix: 'x:' } as never))).toBe('cluster-redis: unknown option `prefix`; known: keyPrefix, commandTimeoutMs, tlsCa')
    expect(optionError(() => clusterRedis({ keyprefix: 'x:' } as never))).toMatch(/unknown option `keyprefix` \(did you mean `keyPrefix`\?\)/)
    expect(optionError(() => clusterRedis({ commandTimeoutMs: '5s' } as never))).toBe('cluster-redis: option `commandTimeoutMs` must be a number, got a string')
    expect(optionError(() => clusterRedis({ commandTimeoutMs: 0 }))).toBe('cluster-redis: option `commandTimeoutMs` must be at least 1 ms, got 0')
  })
})
