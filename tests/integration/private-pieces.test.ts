import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { DAEMON_ROUTES, pieceUrl, routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { CAPABILITY_HEADER, CapabilityGate, createTaskKey } from '../../core/transfer/capability.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, type SupernodeProcess, sha256File, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'

// Issue 20 item 1: a private task's pieces reach only requesters that proved access, on every piece server.
const SECRET = 'Bearer s3cret'
let dir: string
let file: string
let origin: Origin
let sn: SupernodeProcess
let daemon: SupernodeProcess
let taskId: string
let upload: string

const download = (headers: Record<string, string>) =>
  fetch(`${daemon.url}${DAEMON_ROUTES.download}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: origin.url(), headers }),
  })
const register = (headers: Record<string, string>) =>
  fetch(`${sn.url}${SUPERNODE_ROUTES.register}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: origin.url(), headers, peer: { address: 'http://127.0.0.1:9' } }),
  })
const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code
const sentWith = (authorization: string | undefined) => origin.requests.filter((r) => r.headers.authorization === authorization).length

beforeAll(async () => {
  dir = await tempDir()
  file = await randomFile(dir, 3 * 1024 * 1024)
  origin = await startOrigin(file, { auth: SECRET })
  sn = await startSupernode(join(dir, 'sn'))
  daemon = await startDaemon(join(dir, 'daemon'), sn.url)
  // The legitimate first caller: the daemon downloads the private file through the swarm and then seeds it.
  const res = await download({ authorization: SECRET })
  expect(res.status).toBe(200)
  expect(Buffer.from(await res.arrayBuffer()).length).toBe(3 * 1024 * 1024)
  taskId = res.headers.get('x-dragonfly-task-id')!
  upload = ((await (await fetch(`${daemon.url}${DAEMON_ROUTES.hello}`)).json()) as { upload: string }).upload
}, 60_000)
afterAll(async () => {
  killAll()
  await origin?.close()
})

it('supernode and daemon piece servers refuse a private task without a capability, a forged one, or one for another task', async () => {
  const forged = `${crypto.randomUUID()}.${Math.floor(Date.now() / 1000) + 600}.${'ab'.repeat(32)}`
  const otherKey = await new CapabilityGate(taskId, createTaskKey()).issue(crypto.randomUUID())
  const expired = `${crypto.randomUUID()}.${Math.floor(Date.now() / 1000) - 5}.${'cd'.repeat(32)}`
  for (const server of [sn.url, upload]) {
    for (const capability of [undefined, forged, otherKey, expired, 'garbage']) {
      const headers = capability ? { [CAPABILITY_HEADER]: capability } : undefined
      const piece = await fetch(pieceUrl(server, taskId, 0), { headers })
      expect({ server, capability, status: piece.status }).toMatchObject({ status: 403 })
      expect(await codeOf(piece)).toBe('E_FORBIDDEN')
      const map = await fetch(`${server}/pieces/${taskId}`, { headers })
      expect({ server, capability, status: map.status }).toMatchObject({ status: 403 })
      expect(await map.text()).not.toMatch(/"have"/)
    }
  }
  // Registration is where access is proved: a wrong credential gets no capability.
  const refused = await register({ authorization: 'Bearer guess' })
  expect(refused.status).toBe(403)
  expect(await refused.text()).not.toMatch(/capability/)

  // Positive control: a registrant whose credential the source accepts gets a capability both servers accept.
  const admitted = await register({ authorization: SECRET })
  expect(admitted.status).toBe(200)
  const { capability, capabilityKey } = (await admitted.json()) as { capability: string; capabilityKey: string }
  expect(capability).toMatch(/^[\w-]+\.\d+\.[0-9a-f]{64}$/)
  expect(capabilityKey).toMatch(/^[0-9a-f]{64}$/)
  for (const server of [sn.url, upload]) {
    const piece = await fetch(pieceUrl(server, taskId, 0), { headers: { [CAPABILITY_HEADER]: capability } })
    expect(piece.status).toBe(200)
    expect((await piece.arrayBuffer()).byteLength).toBeGreaterThan(0)
  }
})

it('a legitimate get of the private file takes pieces from the seeding daemon with its capability', async () => {
  const run = dragonfly([
    'get',
    origin.url(),
    '-H',
    `authorization: ${SECRET}`,
    '-o',
    join(dir, 'out'),
    '--supernode',
    sn.url,
    '--home',
    join(dir, 'g'),
    '--json',
  ])
  expect(await run.done, run.stderr).toBe(0)
  expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
  const result = parseJsonLine<{ bytesFromPeers: number; backToSource: boolean }>(run.stdout)
  expect(result.backToSource).toBe(false)
  expect(result.bytesFromPeers).toBeGreaterThan(0)
})

it('task lists, task details and piece maps do not show a private task to a caller without the admin credential', async () => {
  const list = await (await fetch(`${sn.url}${SUPERNODE_ROUTES.tasks}`)).text()
  expect(list).not.toContain(taskId)
  expect(list).not.toContain(origin.url())
  for (const path of [SUPERNODE_ROUTES.task, SUPERNODE_ROUTES.pieceMap]) {
    const res = await fetch(`${sn.url}${routePath(path, { taskId })}`)
    expect({ path, status: res.status }).toMatchObject({ status: 404 })
    expect(await res.text()).not.toContain(origin.url())
  }
  const status = await (await fetch(`${sn.url}${SUPERNODE_ROUTES.status}`)).text()
  expect(status).not.toContain(taskId)
})

it('the daemon serves a private download from its cache only to callers whose own credentials the source accepts, each checked once', async () => {
  const before = { guess: sentWith('Bearer guess'), none: sentWith(undefined), secret: sentWith(SECRET) }
  const wrong = await Promise.all([1, 2, 3].map(() => download({ authorization: 'Bearer guess' })))
  for (const res of wrong) {
    expect(res.status).toBe(403)
    expect(await codeOf(res)).toBe('E_FORBIDDEN')
  }
  const none = await download({})
  expect(none.status).toBe(403)
  expect(await codeOf(none)).toBe('E_FORBIDDEN')
  // Three concurrent callers with the same wrong credential: one check at the source.
  expect(sentWith('Bearer guess') - before.guess).toBe(1)
  expect(sentWith(undefined) - before.none).toBe(1)
  // Positive control: the right credential is served from the cache, with no further source request.
  const ok = await download({ authorization: SECRET })
  expect(ok.status).toBe(200)
  expect(Buffer.from(await ok.arrayBuffer()).length).toBe(3 * 1024 * 1024)
  expect(sentWith(SECRET) - before.secret).toBe(0)
})

it("the daemon's local task list and task details show a private task only to callers whose credentials the source accepts", async () => {
  const list = async (headers: Record<string, string>) => await (await fetch(`${daemon.url}${DAEMON_ROUTES.tasks}`, { headers })).text()
  const detail = (headers: Record<string, string>) => fetch(`${daemon.url}${routePath(DAEMON_ROUTES.task, { taskId })}`, { headers })
  const callers: Record<string, string>[] = [{}, { authorization: 'Bearer guess' }]
  for (const headers of callers) {
    const shown = await list(headers)
    expect(shown).not.toContain(taskId)
    expect(shown).not.toContain(origin.url())
    const one = await detail(headers)
    expect(one.status).toBe(404)
    expect(await codeOf(one)).toBe('E_UNKNOWN_TASK')
  }
  // Positive controls: the source's credential shows it; `get` handing over to the daemon reads its result with it.
  expect(await list({ authorization: SECRET })).toContain(origin.url())
  expect((await detail({ authorization: SECRET })).status).toBe(200)
  const run = dragonfly(['get', origin.url(), '-H', `authorization: ${SECRET}`, '-o', join(dir, 'via-daemon'), '--daemon', daemon.url, '--json'])
  expect(await run.done, run.stderr).toBe(0)
  const result = parseJsonLine<{ taskId: string; pieces: number }>(run.stdout)
  expect(result.taskId).toBe(taskId)
  expect(result.pieces).toBeGreaterThan(0)
})
