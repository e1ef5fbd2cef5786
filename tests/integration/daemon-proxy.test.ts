import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, type SupernodeProcess, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'
import { proxyGet, tunnelGet } from '../helpers/proxy-client.ts'

const SIZE = 8 * 1024 * 1024

describe('daemon: get hands over to it, HTTP proxy with rules, CONNECT', () => {
  let dir: string
  let file: Buffer
  let origin: Origin
  let supernode: SupernodeProcess
  let daemon: SupernodeProcess
  let home: string

  beforeAll(async () => {
    dir = await tempDir('df-daemon-')
    file = await readFile(await randomFile(dir, SIZE))
    origin = await startOrigin(join(dir, 'source.bin'), { rate: 16 * 1024 * 1024 })
    supernode = await startSupernode(join(dir, 'sn'))
    home = join(dir, 'daemon-home')
    const config = join(dir, 'daemon.config.json')
    await writeFile(config, JSON.stringify({ daemon: { proxyRules: ['\\.tar\\.gz$'] } }))
    daemon = await startDaemon(home, supernode.url, ['--config', config])
  })
  afterAll(async () => {
    killAll()
    await origin?.close()
  })

  it('two gets of the same file share one download in the daemon (found by --daemon and by its home)', async () => {
    const url = origin.url('/file?get')
    const runs = [
      dragonfly(['get', url, '-o', join(dir, 'get-0'), '--daemon', daemon.url, '--json']),
      dragonfly(['get', url, '-o', join(dir, 'get-1'), '--home', home, '--json']),
    ]
    const codes = await Promise.all(runs.map((r) => r.done))
    expect(codes, runs.map((r) => r.stderr + r.stdout).join('\n')).toEqual([0, 0])
    for (let i = 0; i < 2; i++) {
      expect((await readFile(join(dir, `get-${i}`))).equals(file)).toBe(true)
      expect(parseJsonLine<{ daemon: string; bytes: number }>(runs[i]!.stdout)).toMatchObject({ daemon: daemon.url, bytes: SIZE })
    }
    expect(origin.bytes).toBeLessThanOrEqual(SIZE * 1.01)
    const tasks = (await (await fetch(`${daemon.url}${DAEMON_ROUTES.tasks}`)).json()) as { tasks: { url: string }[] }
    expect(tasks.tasks.filter((t) => t.url === url)).toHaveLength(1)
  })

  it('proxies matching GETs through the swarm and everything else directly', async () => {
    const before = origin.bytes
    const p2p = await proxyGet(daemon.url, origin.url('/file.tar.gz'))
    expect(p2p.status).toBe(200)
    expect(p2p.headers['x-dragonfly-task-id']).toMatch(/^[0-9a-f]{64}$/)
    expect(p2p.body.equals(file)).toBe(true)
    const again = await proxyGet(daemon.url, origin.url('/file.tar.gz'))
    expect(again.body.equals(file)).toBe(true)
    expect(origin.bytes - before).toBeLessThanOrEqual(SIZE * 1.01)
    const direct = await proxyGet(daemon.url, origin.url('/file'))
    expect(direct.status).toBe(200)
    expect(direct.headers['x-dragonfly-task-id']).toBeUndefined()
    expect(direct.body.equals(file)).toBe(true)
    const missing = await proxyGet(daemon.url, origin.url('/missing'))
    expect(missing.status).toBe(404)
  })

  it('tunnels CONNECT', async () => {
    const { status, answer } = await tunnelGet(daemon.url, new URL(origin.url()).host, '/file')
    expect(status).toBe(200)
    expect(answer).toMatch(/^HTTP\/1\.1 206/)
    expect(Buffer.from(answer.slice(answer.indexOf('\r\n\r\n') + 4), 'latin1').equals(file.subarray(0, 10))).toBe(true)
  })
})
