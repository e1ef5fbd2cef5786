import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PEER_SECRET_HEADER } from '../../core/protocol/peer-secret.ts'
import { computePieceSize, createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { computeTaskId } from '../../core/protocol/task-id.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { BIN, dragonfly, killAll, parseJsonLine, randomFile, type SupernodeProcess, sha256File, startSupernode, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'
import { parsePromText, sampleValue } from '../helpers/prom-text.ts'

const SIZE = 16 * 1024 * 1024

interface GetJson {
  bytes: number
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
  taskId: string
}

async function scrape(base: string) {
  const res = await fetch(`${base}/metrics`)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  return parsePromText(await res.text())
}

/** Runs the CLI under a pseudo-terminal (util-linux `script`), so stdout and stderr are TTYs. */
function dragonflyTty(args: string[]): Promise<{ code: number; output: string }> {
  const command = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, NO_COLOR: '1', COLUMNS: '160' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, output })))
}

describe('what users see: metrics, status, preheat, progress', () => {
  let dir: string
  let file: string
  let origin: Origin
  let supernode: SupernodeProcess
  beforeAll(async () => {
    dir = await tempDir()
    file = await randomFile(dir, SIZE)
    origin = await startOrigin(file, { rate: 8 * 1024 * 1024 })
    supernode = await startSupernode(join(dir, 'sn'), ['--log-format', 'json'])
  })
  afterAll(async () => {
    killAll()
    await origin.close()
  })

  it('/metrics during and after a swarm of 3 peers: source bytes = file size, piece bytes = 3x, schedule histogram filled', async () => {
    const runs = Array.from({ length: 3 }, (_, i) =>
      dragonfly([
        'get',
        origin.url(),
        '-o',
        join(dir, `out-${i}`),
        '--supernode',
        supernode.url,
        '--home',
        join(dir, `p-${i}`),
        '--json',
        '--location',
        `eu|az${i % 2}|r1`,
      ]),
    )
    let maxPeers = 0
    let scrapes = 0
    const exited = Promise.all(runs.map((r) => r.done))
    let finished = false
    exited.finally(() => (finished = true))
    while (!finished) {
      const m = await scrape(supernode.url)
      maxPeers = Math.max(maxPeers, sampleValue(m, 'dragonfly_peers'))
      expect(sampleValue(m, 'dragonfly_source_bytes_total')).toBeLessThanOrEqual(SIZE)
      scrapes++
      await new Promise((r) => setTimeout(r, 200))
    }
    expect(await exited, runs.map((r) => r.stderr).join('\n')).toEqual([0, 0, 0])
    expect(scrapes).toBeGreaterThan(2)
    expect(maxPeers).toBeGreaterThanOrEqual(2)
    const results = runs.map((r) => parseJsonLine<GetJson>(r.stdout))
    const m = await scrape(supernode.url)
    expect(sampleValue(m, 'dragonfly_source_bytes_total')).toBe(SIZE)
    expect(origin.bytes).toBe(SIZE)
    const fromSupernode = sampleValue(m, 'dragonfly_piece_bytes_total', { from: 'supernode' })
    const fromPeers = sampleValue(m, 'dragonfly_piece_bytes_total', { from: 'peer' })
    expect(fromSupernode + fromPeers).toBe(3 * SIZE)
    expect(fromPeers).toBe(results.reduce((a, r) => a + r.bytesFromPeers, 0))
    expect(sampleValue(m, 'dragonfly_tasks', { state: 'complete' })).toBe(1)
    expect(sampleValue(m, 'dragonfly_peers')).toBe(0)
    expect(sampleValue(m, 'dragonfly_isolated_peers')).toBe(0)
    expect(sampleValue(m, 'dragonfly_back_to_source_total')).toBe(0)
    expect(sampleValue(m, 'dragonfly_cache_bytes')).toBe(SIZE)
    expect(sampleValue(m, 'dragonfly_schedule_duration_seconds_count')).toBeGreaterThan(3)
    expect(m.get('dragonfly_schedule_duration_seconds')?.type).toBe('histogram')

    // --log-format json: one object per line, with the task's lifecycle as fields.
    const logs = supernode.run.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(logs.every((l) => typeof l.time === 'string' && typeof l.level === 'string' && typeof l.msg === 'string')).toBe(true)
    expect(logs).toContainEqual(expect.objectContaining({ level: 'info', msg: 'task started', taskId: results[0]!.taskId, url: origin.url(), bytes: SIZE }))
    expect(logs).toContainEqual(expect.objectContaining({ level: 'success', msg: 'task complete', taskId: results[0]!.taskId, bytes: SIZE }))

    const ready = await fetch(`${supernode.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ ready: true })
  })

  it('status shows tasks, peers and cache use, as a table and as JSON', async () => {
    const json = dragonfly(['status', '--supernode', supernode.url, '--json'])
    expect(await json.done, json.stderr).toBe(0)
    const status = parseJsonLine<{
      tasks: { taskId: string; url: string; contentLength: number; peers: unknown[]; bytesFromPeers: number; bytesFromSupernode: number }[]
      taskCounts: unknown
      cache: { bytes: number }
      bytesFromSource: number
    }>(json.stdout)
    expect(status).toMatchObject({
      taskCounts: { total: 1, complete: 1, running: 0, failed: 0 },
      cache: { bytes: SIZE },
      bytesFromSource: SIZE,
      peers: 0,
      isolatedPeers: 0,
    })
    expect(status.tasks[0]).toMatchObject({ url: origin.url(), contentLength: SIZE, complete: true, state: 'complete', downloading: 0 })
    // The task's bytes from peers are the ones the peers (gone by now) reported: the same as the whole supernode's.
    const fromPeers = sampleValue(await scrape(supernode.url), 'dragonfly_piece_bytes_total', { from: 'peer' })
    expect(fromPeers).toBeGreaterThan(0)
    expect(status.tasks[0]!.bytesFromPeers).toBe(fromPeers)
    expect(status.tasks[0]!.bytesFromSupernode + status.tasks[0]!.bytesFromPeers).toBe(3 * SIZE)
    const table = dragonfly(['status', '--supernode', supernode.url])
    expect(await table.done, table.stderr).toBe(0)
    expect(table.stdout).toMatch(/TASK\s+URL\s+SIZE\s+CACHED\s+PEERS\s+FROM SOURCE\s+FROM SUPERNODE\s+FROM PEERS\s+STATE/)
    expect(table.stdout).toMatch(/peers 0 \(0 downloading, 0 isolated\)/)
    expect(table.stdout).toContain(status.tasks[0]!.taskId.slice(0, 12))
    expect(table.stdout).toMatch(/16\.0 MiB\s+100 %/)
    const down = dragonfly(['status', '--supernode', 'http://127.0.0.1:1', '--json'])
    expect(await down.done).toBe(7)
    expect(parseJsonLine<{ error: { code: string } }>(down.stdout).error.code).toBe('E_NO_SUPERNODE')
  })

  it('get on a terminal draws a progress bar; --json and --quiet draw none', async () => {
    const tty = await dragonflyTty(['get', origin.url(), '-o', join(dir, 'tty-out'), '--supernode', supernode.url, '--home', join(dir, 'tty')])
    expect(tty.code, tty.output).toBe(0)
    // An 80-column terminal: the narrow layout, source split included (tests/unit/cli-progress-layout.test.ts).
    expect(tty.output).toMatch(/100% 16M\/16M [\d.]+[KMG]?\/s ETA\s+\d+s \| peers \S+ sn \S+ src 0/)
    expect(tty.output).toContain('\x1b[?25l') // cli-progress hides the cursor while drawing
    expect(await sha256File(join(dir, 'tty-out'))).toBe(await sha256File(file))
    for (const flag of ['--json', '--quiet']) {
      const quiet = await dragonflyTty([
        'get',
        origin.url(),
        '-o',
        join(dir, `tty${flag}.out`),
        '--supernode',
        supernode.url,
        '--home',
        join(dir, `tty${flag}`),
        flag,
      ])
      expect(quiet.code, quiet.output).toBe(0)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape sequence that hides a terminal's cursor
      expect(quiet.output).not.toMatch(/ETA|\x1b\[\?25l/)
      if (flag === '--json') expect(parseJsonLine<GetJson>(quiet.output.replace(/\r/g, '')).bytes).toBe(SIZE)
      else expect(quiet.output.trim()).toBe('')
    }
  })

  it('preheat caches a URL: the get after it takes nothing from the origin', async () => {
    const other = await randomFile(dir, 3 * 1024 * 1024 + 7, 'other.bin')
    const o2 = await startOrigin(other)
    try {
      const preheat = dragonfly(['preheat', o2.url(), '--supernode', supernode.url, '--json'])
      expect(await preheat.done, preheat.stderr).toBe(0)
      expect(parseJsonLine<{ ok: boolean; items: { state: string; contentLength: number }[] }>(preheat.stdout)).toMatchObject({
        ok: true,
        items: [{ state: 'complete', contentLength: 3 * 1024 * 1024 + 7 }],
      })
      const sent = o2.bytes
      expect(sent).toBe(3 * 1024 * 1024 + 7)
      const get = dragonfly(['get', o2.url(), '-o', join(dir, 'pre-out'), '--supernode', supernode.url, '--home', join(dir, 'pre'), '--json'])
      expect(await get.done, get.stderr).toBe(0)
      expect(parseJsonLine<GetJson>(get.stdout)).toMatchObject({ bytesFromSource: 0, bytesFromSupernode: 3 * 1024 * 1024 + 7 })
      expect(o2.bytes).toBe(sent)
      const missing = dragonfly(['preheat', o2.url('/missing'), '--supernode', supernode.url, '--json'])
      expect(await missing.done).toBe(6)
      expect(parseJsonLine<{ error: { code: string } }>(missing.stdout).error.code).toBe('E_SOURCE_STATUS')
    } finally {
      await o2.close()
    }
  })

  it("a peer that went back to source reports it, with its registration's secret; the supernode counts it", async () => {
    // A supernode that registers the peer, then cannot schedule (its syncs answer 503 without a Dragonfly error),
    // and records the report.
    const reports: { body: unknown; secret: string | undefined }[] = []
    const layout = createPieceLayout(SIZE)
    const taskId = await computeTaskId({ url: origin.url() })
    const issued = { peerId: crypto.randomUUID(), peerSecret: 'ab'.repeat(32) }
    const flaky = new Hono()
      .post(SUPERNODE_ROUTES.register, (c) =>
        c.json({ taskId, ...issued, contentLength: SIZE, pieceSize: layout.pieceSize, pieceCount: layout.pieceCount, address: 'http://127.0.0.1:9' }),
      )
      .post(SUPERNODE_ROUTES.sync, (c) => c.text('overloaded', 503))
      .post(SUPERNODE_ROUTES.backToSource, async (c) => {
        reports.push({ body: await c.req.json(), secret: c.req.header(PEER_SECRET_HEADER) })
        return c.json({ ok: true })
      })
    const server = await nodeRuntime.serve(flaky.fetch, { port: 0, hostname: '127.0.0.1' })
    try {
      const get = dragonfly([
        'get',
        origin.url(),
        '-o',
        join(dir, 'bts-out'),
        '--supernode',
        `http://127.0.0.1:${server.port}`,
        '--home',
        join(dir, 'bts'),
        '--json',
      ])
      expect(await get.done, get.stderr).toBe(0)
      expect(parseJsonLine<GetJson>(get.stdout).bytesFromSource).toBe(SIZE)
      expect(reports).toEqual([{ body: { url: origin.url(), bytes: SIZE, taskId, peerId: issued.peerId }, secret: issued.peerSecret }])
    } finally {
      await server.close()
    }
    // The real supernode counts the report of a peer registered there, sent with its secret.
    const reg = await fetch(`${supernode.url}${SUPERNODE_ROUTES.register}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: origin.url(), peer: { address: 'http://127.0.0.1:9' } }),
    })
    const { peerId, peerSecret, taskId: registered } = (await reg.json()) as { taskId: string; peerId: string; peerSecret: string }
    const res = await fetch(`${supernode.url}${SUPERNODE_ROUTES.backToSource}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [PEER_SECRET_HEADER]: peerSecret },
      body: JSON.stringify({ url: origin.url(), bytes: SIZE, taskId: registered, peerId }),
    })
    expect(res.status).toBe(200)
    const m = await scrape(supernode.url)
    expect(sampleValue(m, 'dragonfly_back_to_source_total')).toBe(1)
    expect(sampleValue(m, 'dragonfly_back_to_source_bytes_total')).toBe(SIZE)
  })
})

describe('daemon observability', () => {
  afterAll(() => killAll())

  it('/metrics on the daemon: what it downloaded and from whom, what it served, its cache; /healthz and /readyz', async () => {
    const { startDaemon } = await import('../helpers/cli.ts')
    const dir = await tempDir()
    const origin = await startOrigin(await randomFile(dir, 4 * 1024 * 1024))
    const sn = await startSupernode(join(dir, 'sn'))
    const daemon = await startDaemon(join(dir, 'd'), sn.url)
    try {
      expect((await fetch(`${daemon.url}/healthz`)).status).toBe(200)
      expect((await fetch(`${daemon.url}/readyz`)).status).toBe(200)
      const first = dragonfly(['get', origin.url(), '-o', join(dir, 'a'), '--daemon', daemon.url, '--json'])
      expect(await first.done, first.stderr).toBe(0)
      // Another host's peer (no daemon) gets the same file: peers are preferred, so the daemon serves it.
      const second = dragonfly(['get', origin.url(), '-o', join(dir, 'b'), '--supernode', sn.url, '--daemon', 'off', '--home', join(dir, 'h2'), '--json'])
      expect(await second.done, second.stderr).toBe(0)
      const fromPeers = parseJsonLine<GetJson>(second.stdout).bytesFromPeers

      const m = await scrape(daemon.url)
      expect(sampleValue(m, 'dragonfly_downloads_total', { result: 'ok' })).toBe(1)
      expect(sampleValue(m, 'dragonfly_downloads_total', { result: 'failed' })).toBe(0)
      const received = ['supernode', 'peer', 'source'].reduce((sum, from) => sum + sampleValue(m, 'dragonfly_piece_bytes_total', { from }), 0)
      expect(received).toBe(4 * 1024 * 1024)
      // Every byte the peer kept from peers came from the daemon; an end-game duplicate it served that lost the
      // race to the supernode's copy is counted as sent but not kept (seen once under a loaded full suite).
      const uploaded = sampleValue(m, 'dragonfly_upload_bytes_total')
      const PIECE = computePieceSize(4 * 1024 * 1024)
      expect(uploaded).toBeGreaterThanOrEqual(fromPeers)
      expect((uploaded - fromPeers) % PIECE).toBe(0)
      expect(uploaded - fromPeers).toBeLessThanOrEqual(2 * PIECE)
      expect(fromPeers).toBeGreaterThan(0)
      expect(sampleValue(m, 'dragonfly_tasks', { state: 'done' })).toBe(1)
      expect(sampleValue(m, 'dragonfly_cache_bytes')).toBe(4 * 1024 * 1024)
    } finally {
      await daemon.stop()
      await sn.stop()
      await origin.close()
    }
  }, 60_000)
})
