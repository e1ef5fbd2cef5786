import { randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { chromium } from 'playwright-core'
import { afterAll, expect, it } from 'vitest'
import { Bitset } from '../../core/protocol/bitset.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { nodeRuntime } from '../../runtime/node.ts'
import { dragonfly, killAll, randomFile, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

const CHROMIUM = process.env.DRAGONFLY_CHROMIUM ?? '/usr/bin/chromium'
const SIZE = 24 * 1024 * 1024

afterAll(() => killAll())

it('the dashboard shows tasks, peers with their location, a live piece map and an isolated peer, in a real browser', async () => {
  const dir = await tempDir()
  const origin = await startOrigin(await randomFile(dir, SIZE), { rate: 4 * 1024 * 1024 })
  const supernode = await startSupernode(join(dir, 'sn'))
  // A liar that claims every piece and serves random bytes: the swarm isolates it.
  // It answers the piece map (every piece) as the parents protocol's have-announcements, and random piece bytes.
  let claimed = 0
  const liarApp = new Hono()
    .get('/pieces/:task', (c) => c.json({ count: claimed, have: Bitset.full(claimed).toBase64() }))
    .get('/pieces/:task/:piece', (c) => c.body(randomBytes(256 * 1024)))
  const liar = await nodeRuntime.serve(liarApp.fetch, { port: 0, hostname: '127.0.0.1' })
  const context = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'df-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  })
  try {
    const page = context.pages()[0] ?? (await context.newPage())
    const response = await page.goto(supernode.url)
    expect(response?.headers()['content-type']).toMatch(/^text\/html/)
    expect(await page.title()).toBe('dragonfly supernode')
    // The bandwidth chart is there before any byte moved: one line per flow, all at zero.
    const total = '[data-bandwidth="total"]'
    await page.waitForSelector(`${total} svg path[data-series]`, { state: 'attached' })
    expect(await page.$$eval(`${total} path[data-series]`, (ps) => ps.map((p) => [p.getAttribute('data-series'), p.getAttribute('data-bytes')]))).toEqual([
      ['source', '0'],
      ['supernode', '0'],
      ['peers', '0'],
    ])

    // The supernode starts caching (preheat); once it has a few pieces a liar joins claiming all of
    // them, before the peers do, so the peers are sent to it first and catch it.
    const preheat = await fetch(`${supernode.url}${SUPERNODE_ROUTES.preheat}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: origin.url() }),
    })
    const { taskId, pieceCount } = (await preheat.json()) as { taskId: string; pieceCount: number }
    await expect
      .poll(
        async () =>
          ((await (await fetch(`${supernode.url}${routePath(SUPERNODE_ROUTES.preheatState, { taskId })}`)).json()) as { piecesCached: number }).piecesCached,
        { timeout: 30_000, interval: 100 },
      )
      .toBeGreaterThanOrEqual(4)
    // Source bytes appear on the total chart as the supernode reads them, and keep growing.
    const drawn = (chart: string, flow: string) =>
      page.$eval(`${chart} path[data-series="${flow}"]`, (p) => ({
        bytes: Number(p.getAttribute('data-bytes')),
        d: p.getAttribute('d'),
        height: (p as SVGPathElement).getBBox().height,
      }))
    await expect.poll(async () => (await drawn(total, 'source')).bytes, { timeout: 10_000, interval: 100 }).toBeGreaterThan(0)
    const sourceEarly = await drawn(total, 'source')
    claimed = pieceCount
    const reg = await fetch(`${supernode.url}${SUPERNODE_ROUTES.register}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        url: origin.url(),
        peer: { address: `http://127.0.0.1:${liar.port}`, have: Bitset.full(pieceCount).toBase64(), slots: 64, location: 'nowhere|liar' },
      }),
    })
    expect(reg.status).toBe(200)
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
        `eu-west|az${i + 1}|rack${i}`,
      ]),
    )

    const held = () => page.$$eval('[data-swarm] .row.peer', (rows) => rows.map((r) => Number((r as HTMLElement).dataset.pieces)).reduce((a, b) => a + b, 0))
    await page.waitForFunction(() => document.querySelectorAll('[data-swarm] .row.peer').length >= 3, undefined, { timeout: 30_000 })
    const first = await held()
    await expect.poll(held, { timeout: 30_000, interval: 250 }).toBeGreaterThan(first)
    const later = await held()
    expect(await page.textContent('[data-swarm]')).toMatch(/eu-west\|az1\|rack0/)
    // Peers are named by host name as well as address and location.
    const named = new RegExp(String.raw`^${hostname().replace(/\./g, '\\.')}  http://127\.0\.0\.1:\d+  eu-west\|az\d\|rack\d$`)
    const labels = await page.$$eval('[data-swarm] .row.peer .who', (spans) => spans.map((s) => s.textContent ?? ''))
    expect(
      labels.filter((l) => named.test(l)),
      labels.join(' / '),
    ).toHaveLength(3)
    expect(labels.filter((l) => l.includes('nowhere|liar'))).toHaveLength(1) // control: a peer that sent no name shows its address
    expect(await page.textContent('#cards')).toMatch(/peers \([1-9]\d* downloading\)/)
    // Peer-to-peer bytes show on the total chart and on the task's own, and the lines move as bytes flow.
    const swarmChart = `[data-swarm="${taskId}"] [data-bandwidth="${taskId}"]`
    await expect.poll(async () => (await drawn(total, 'peers')).bytes, { timeout: 30_000, interval: 250 }).toBeGreaterThan(0)
    await expect.poll(async () => (await drawn(swarmChart, 'peers')).bytes, { timeout: 30_000, interval: 250 }).toBeGreaterThan(0)
    const sourceLater = await drawn(total, 'source')
    expect(sourceLater.bytes).toBeGreaterThan(sourceEarly.bytes)
    expect(sourceLater.d).not.toBe(sourceEarly.d)
    expect((await drawn(total, 'peers')).height).toBeGreaterThan(0)
    expect(await page.textContent('#tasks')).toContain(origin.url())
    await page.waitForSelector('[data-swarm] .row.isolated', { timeout: 30_000 })
    expect(await page.textContent('[data-swarm] .row.isolated')).toMatch(new RegExp(`127\\.0\\.0\\.1:${liar.port}.*nowhere\\|liar.*isolated`))
    expect(await page.textContent('#cards')).toContain('1isolated peers')
    const shots = await mkdtemp(join(tmpdir(), 'df-dashboard-'))
    await page.screenshot({ path: join(shots, 'during.png'), fullPage: true })
    await page.locator('#bandwidth').screenshot({ path: join(shots, 'bandwidth-during.png') })

    expect(await Promise.all(runs.map((r) => r.done))).toEqual([0, 0, 0])
    await page.waitForFunction(() => document.querySelector('#tasks')?.textContent?.includes('complete'), undefined, { timeout: 10_000 })
    expect(later).toBeGreaterThan(first)
    const cards = await page.textContent('#cards')
    expect(cards).toContain('24.0 MiBfrom source')
    expect(cards).toMatch(/[1-9][\d.]* %source bandwidth saved/)
    // Every byte is on the charts: the file once from the source, three copies delivered by the supernode and peers.
    for (const chart of [total, swarmChart]) {
      await expect.poll(async () => (await drawn(chart, 'supernode')).bytes + (await drawn(chart, 'peers')).bytes, { timeout: 10_000 }).toBe(3 * SIZE)
      expect((await drawn(chart, 'source')).bytes).toBe(SIZE)
    }
    // What the screenshot shows: the chart spans the page's width, its three lines drawn in the legend's colours.
    const box = await page.locator('#bandwidth').boundingBox()
    expect(box?.width).toBeGreaterThan(1000)
    expect(box?.height).toBeGreaterThan(80)
    expect(await page.$$eval(`${total} path`, (ps) => ps.map((p) => [p.getAttribute('data-series'), p.getAttribute('stroke')]))).toEqual([
      ['source', '#d9822b'],
      ['supernode', '#2f6fdb'],
      ['peers', '#2e9d57'],
    ])
    expect(await page.textContent(`${total} .bw-head`)).toMatch(
      /from source .*\/s.*supernode to peers .*\/s.*peer to peer .*\/s.*peak [1-9][\d.]* (KiB|MiB)\/s, last 5 min/,
    )
    // A long URL is cut short in its cell (the whole of it in the title), not pushing the table past the window.
    const longUrl = origin.url(`/file?${'q'.repeat(400)}`)
    const longHeat = await fetch(`${supernode.url}${SUPERNODE_ROUTES.preheat}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ url: longUrl }),
    })
    expect(longHeat.status).toBe(202)
    await page.waitForSelector(`#tasks td.url[title="${longUrl}"]`, { timeout: 10_000 })
    expect(await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth])).toEqual([1280, 1280])
    await page.locator('#bandwidth').screenshot({ path: join(shots, 'bandwidth-after.png') })
    await page.screenshot({ path: join(shots, 'after.png'), fullPage: true })
    console.log(`dashboard screenshots in ${shots}`)
  } finally {
    await context.close()
    await liar.close()
    await supernode.stop()
    await origin.close()
  }
})
