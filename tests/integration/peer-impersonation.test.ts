import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { PEER_SECRET_HEADER } from '../../core/protocol/peer-secret.ts'
import { DAEMON_ROUTES, pieceUrl, routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { CAPABILITY_HEADER } from '../../core/transfer/capability.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startDaemon, startSupernode, tempDir, writePluginConfig } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'

// Issue 20: peer ids are public (task details, parent lists, the dashboard); only the peer's own secret speaks for it.
afterAll(() => killAll())

const json = { 'content-type': 'application/json' }
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) })
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code

interface Registration {
  taskId: string
  peerId: string
  peerSecret: string
  capability?: string
}
interface Detail {
  bytesFromPeers: number
  contentLength: number
  peers: { id: string; bytesDownloaded: number; isolated: boolean }[]
}

const register = async (sn: string, url: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
  (await (await post(`${sn}${SUPERNODE_ROUTES.register}`, { url, peer: { address: 'http://127.0.0.1:9' }, ...extra }, headers)).json()) as Registration

it("nobody syncs, pulls or leaves in a registered peer's name without its secret; the peer itself still does", async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 2 * 1024 * 1024)
  const origin = await startOrigin(file)
  const sn = await startSupernode(join(dir, 'sn'))
  // The honest peer: a daemon that downloads the file and then seeds it, kept in the swarm by its heartbeat syncs.
  const daemon = await startDaemon(join(dir, 'd'), sn.url)
  try {
    const got = await post(`${daemon.url}${DAEMON_ROUTES.download}`, { url: origin.url() })
    expect(got.status).toBe(200)
    await got.arrayBuffer()
    const taskId = got.headers.get('x-dragonfly-task-id')!
    const detail = async () => (await (await fetch(`${sn.url}${routePath(SUPERNODE_ROUTES.task, { taskId })}`)).json()) as Detail
    const before = await detail()
    const honest = before.peers[0]!

    // The attacker registers itself, so it holds a secret, just not the honest peer's.
    const attacker = await register(sn.url, origin.url())
    expect(attacker.peerSecret).toMatch(/^[0-9a-f]{64}$/)
    // Secrets are in no listing: the task list, the task's details, its piece map.
    for (const path of [SUPERNODE_ROUTES.tasks, routePath(SUPERNODE_ROUTES.task, { taskId }), routePath(SUPERNODE_ROUTES.pieceMap, { taskId })]) {
      const shown = await (await fetch(`${sn.url}${path}`)).text()
      expect(shown).not.toContain(attacker.peerSecret)
    }
    const sync = routePath(SUPERNODE_ROUTES.sync, { taskId })
    const forged = {
      peerId: honest.id,
      received: [{ from: attacker.peerId, pieces: 1, bytes: 2 ** 49 }],
      failed: [{ from: 'supernode', error: 'timeout' }],
    }
    const tries: Record<string, string>[] = [{}, { [PEER_SECRET_HEADER]: attacker.peerSecret }, { [PEER_SECRET_HEADER]: 'ab'.repeat(32) }]
    for (const headers of tries) {
      const res = await post(`${sn.url}${sync}`, forged, headers)
      expect({ status: res.status, code: await codeOf(res) }).toEqual({ status: 403, code: 'E_FORBIDDEN' })
      const pull = await post(`${sn.url}${routePath(SUPERNODE_ROUTES.pull, { taskId })}`, { peerId: honest.id, want: 4, wait: false }, headers)
      expect(pull.status).toBe(403)
      const leave = await post(`${sn.url}${routePath(SUPERNODE_ROUTES.leave, { taskId })}`, { peerId: honest.id }, headers)
      expect(leave.status).toBe(403)
    }
    // Nothing moved: the honest peer is still listed, its counters and the task's are as they were.
    const after = await detail()
    expect(after.peers.find((p) => p.id === honest.id)).toMatchObject({ bytesDownloaded: honest.bytesDownloaded, isolated: false })
    expect(after.bytesFromPeers).toBe(before.bytesFromPeers)

    // Positive controls: the attacker speaks for itself with its own secret; a real get takes pieces from the
    // honest daemon, whose own syncs (with its secret) keep working.
    const own = await post(
      `${sn.url}${sync}`,
      { peerId: attacker.peerId, received: [{ from: 'supernode', pieces: 1, bytes: 1 }] },
      { [PEER_SECRET_HEADER]: attacker.peerSecret },
    )
    expect(own.status).toBe(200)
    const run = dragonfly(['get', origin.url(), '-o', join(dir, 'out'), '--supernode', sn.url, '--home', join(dir, 'g'), '--daemon', 'off', '--json'])
    expect(await run.done, run.stderr).toBe(0)
    expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
    expect(parseJsonLine<{ bytesFromPeers: number }>(run.stdout).bytesFromPeers).toBeGreaterThan(0)
    const left = await post(
      `${sn.url}${routePath(SUPERNODE_ROUTES.leave, { taskId })}`,
      { peerId: attacker.peerId },
      { [PEER_SECRET_HEADER]: attacker.peerSecret },
    )
    expect(left.status).toBe(200)
    expect((await detail()).peers.some((p) => p.id === attacker.peerId)).toBe(false)
  } finally {
    await daemon.stop()
    await sn.stop()
    await origin.close()
  }
})

it('back-to-source reports count only from a registered peer of the task, with its secret, once', async () => {
  const dir = await tempDir()
  const origin = await startOrigin(await randomFile(dir, 1024 * 1024))
  const sn = await startSupernode(join(dir, 'sn'))
  const reported = async () => {
    const m = parsePromText(await (await fetch(`${sn.url}/metrics`)).text())
    return [sampleValue(m, 'dragonfly_back_to_source_total'), sampleValue(m, 'dragonfly_back_to_source_bytes_total')]
  }
  const report = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    post(`${sn.url}${SUPERNODE_ROUTES.backToSource}`, { url: origin.url(), bytes: 1024, ...body }, headers)
  try {
    const victim = await register(sn.url, origin.url())
    const attacker = await register(sn.url, origin.url())
    // Anyone on the network, the old way: no task, no peer.
    const anonymous = await report({})
    expect({ status: anonymous.status, code: await codeOf(anonymous) }).toEqual({ status: 404, code: 'E_UNKNOWN_PEER' })
    // In a registered peer's name: without a secret, with another peer's, with a made-up one.
    for (const secret of [undefined, attacker.peerSecret, 'cd'.repeat(32)]) {
      const res = await report({ taskId: victim.taskId, peerId: victim.peerId }, secret ? { [PEER_SECRET_HEADER]: secret } : {})
      expect({ secret, status: res.status, code: await codeOf(res) }).toEqual({ secret, status: 403, code: 'E_FORBIDDEN' })
    }
    const stranger = await report({ taskId: victim.taskId, peerId: crypto.randomUUID() }, { [PEER_SECRET_HEADER]: attacker.peerSecret })
    expect(stranger.status).toBe(404)
    // More bytes than the task has.
    const inflated = await report({ taskId: attacker.taskId, peerId: attacker.peerId, bytes: 2 ** 40 }, { [PEER_SECRET_HEADER]: attacker.peerSecret })
    expect({ status: inflated.status, code: await codeOf(inflated) }).toEqual({ status: 400, code: 'E_BAD_REQUEST' })
    expect(await reported()).toEqual([0, 0])

    // Positive control: the peer itself, with its secret, is counted; a second report from the same registration is not.
    const own = await report({ taskId: victim.taskId, peerId: victim.peerId }, { [PEER_SECRET_HEADER]: victim.peerSecret })
    expect(own.status).toBe(200)
    const again = await report({ taskId: victim.taskId, peerId: victim.peerId }, { [PEER_SECRET_HEADER]: victim.peerSecret })
    expect({ status: again.status, code: await codeOf(again) }).toEqual({ status: 400, code: 'E_BAD_REQUEST' })
    expect(await reported()).toEqual([1, 1024])
  } finally {
    await sn.stop()
    await origin.close()
  }
})

it("a token holder who can see a private task's peers gets no capability by speaking for one; the daemon lists the task to it as an admin", async () => {
  const dir = await tempDir()
  const file = await randomFile(dir, 1024 * 1024)
  const COOKIE = 'session=private-content'
  const origin = await startOrigin(file, { auth: COOKIE, authHeader: 'cookie' })
  const config = await writePluginConfig(join(dir, 'token.config.mjs'), ['storageFs()', 'sourceHttp()', "authHeader({ token: 'cluster-token' })"])
  const token = { authorization: 'Bearer cluster-token' }
  const sn = await startSupernode(join(dir, 'sn'), ['--config', config])
  const daemon = await startDaemon(join(dir, 'd'), sn.url, ['--config', config])
  try {
    const got = await post(`${daemon.url}${DAEMON_ROUTES.download}`, { url: origin.url(), headers: { cookie: COOKIE } })
    expect(got.status).toBe(200)
    await got.arrayBuffer()
    const taskId = got.headers.get('x-dragonfly-task-id')!
    // The token holder is an admin of the listings: it sees the private task and its peer (the daemon).
    const detail = (await (await fetch(`${sn.url}${routePath(SUPERNODE_ROUTES.task, { taskId })}`, { headers: token })).json()) as Detail
    const admitted = detail.peers[0]!.id
    // Speaking for the admitted peer used to hand out that peer's capability, i.e. the private bytes.
    for (const route of [SUPERNODE_ROUTES.sync, SUPERNODE_ROUTES.pull]) {
      const res = await post(`${sn.url}${routePath(route, { taskId })}`, { peerId: admitted, wait: false }, token)
      const text = await res.text()
      expect({ route, status: res.status }).toEqual({ route, status: 403 })
      expect(text).not.toMatch(/capability/)
    }
    // The control: without a capability the supernode's piece route stays shut to the token holder...
    expect((await fetch(pieceUrl(sn.url, taskId, 0), { headers: token })).status).toBe(403)
    // ...and a registrant with the source's credential gets one, which opens it.
    const own = await register(sn.url, origin.url(), token, { headers: { cookie: COOKIE } })
    expect(own.capability).toMatch(/\.\d+\.[0-9a-f]{64}$/)
    expect((await fetch(pieceUrl(sn.url, taskId, 0), { headers: { ...token, [CAPABILITY_HEADER]: own.capability! } })).status).toBe(200)

    // The daemon's own list: the token makes a local caller an admin; without it, the private task is not there.
    const listed = async (headers: Record<string, string>) => await (await fetch(`${daemon.url}${DAEMON_ROUTES.tasks}`, { headers })).text()
    expect(await listed({})).not.toContain(taskId)
    expect(await listed({ authorization: 'Bearer guess' })).not.toContain(origin.url())
    const admin = await listed(token)
    expect(admin).toContain(taskId)
    expect(admin).toContain(origin.url())
  } finally {
    await daemon.stop()
    await sn.stop()
    await origin.close()
  }
})
