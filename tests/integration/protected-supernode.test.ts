import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium } from 'playwright-core'
import { afterAll, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

const CHROMIUM = process.env.DRAGONFLY_CHROMIUM ?? '/usr/bin/chromium'
const DIST = resolve(import.meta.dirname, '../../dist')
const TOKEN = 'dashboard-token-for-the-test'

afterAll(() => killAll())

it('a supernode with auth-header: status and preheat send the token from --config; the dashboard asks for it once, in a real browser', async () => {
  const dir = await tempDir()
  const origin = await startOrigin(await randomFile(dir, 1024 * 1024))
  const config = join(dir, 'protected.config.mjs')
  await writeFile(
    config,
    [
      `import authHeader from ${JSON.stringify(join(DIST, 'plugins/auth-header.mjs'))}`,
      `import storageFs from ${JSON.stringify(join(DIST, 'plugins/storage-fs.mjs'))}`,
      `export default { plugins: [storageFs(), authHeader({ token: ${JSON.stringify(TOKEN)} })] }`,
    ].join('\n'),
  )
  const supernode = await startSupernode(join(dir, 'sn'), ['--config', config])
  const context = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'df-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  try {
    // Without the token the CLI is refused (the control); with the config it passes.
    const bare = dragonfly(['status', '--supernode', supernode.url, '--json'], { cwd: dir })
    expect(await bare.done).toBe(3)
    expect(parseJsonLine<{ error: { code: string } }>(bare.stdout).error.code).toBe('E_UNAUTHORIZED')
    const preheat = dragonfly(['preheat', origin.url(), '--supernode', supernode.url, '--config', config, '--json'], { cwd: dir })
    expect(await preheat.done, preheat.stdout + preheat.stderr).toBe(0)
    const status = dragonfly(['status', '--supernode', supernode.url, '--config', config, '--json'], { cwd: dir })
    expect(await status.done, status.stdout + status.stderr).toBe(0)
    const shown = parseJsonLine<{ tasks: { taskId: string; url: string; complete: boolean }[] }>(status.stdout)
    expect(shown.tasks).toMatchObject([{ url: origin.url(), complete: true }])
    const taskId = shown.tasks[0]!.taskId

    // The data routes stay closed without the token; only the HTML shell is open.
    expect((await fetch(`${supernode.url}${SUPERNODE_ROUTES.tasks}`)).status).toBe(401)
    const shell = await fetch(supernode.url)
    expect(shell.status).toBe(200)
    const html = await shell.text()
    expect(html).not.toContain(taskId)
    expect(html).not.toContain(origin.url())

    const page = context.pages()[0] ?? (await context.newPage())
    await page.goto(supernode.url)
    await page.waitForSelector('#login:not([hidden])', { timeout: 10_000 })
    const body = await page.textContent('body')
    expect(body).not.toContain(taskId.slice(0, 12))
    expect(body).not.toContain(origin.url())
    expect(await page.$$('#tasks tr')).toHaveLength(0)

    await page.fill('#token', 'not-the-token')
    await page.click('#login button')
    await page.waitForFunction(() => document.querySelector('#login-why')?.textContent?.includes('refused'), undefined, { timeout: 10_000 })
    expect(await page.$$('#tasks tr')).toHaveLength(0)

    await page.fill('#token', TOKEN)
    await page.click('#login button')
    await page.waitForSelector(`[data-task="${taskId}"]`, { timeout: 10_000 })
    expect(await page.textContent('#tasks')).toContain(origin.url())
    expect(await page.isHidden('#login')).toBe(true)
    expect(await page.evaluate(() => sessionStorage.getItem('dragonfly-token'))).toBe(TOKEN)
    // Asked once: a reload in the same tab goes straight to the data.
    await page.reload()
    await page.waitForSelector(`[data-task="${taskId}"]`, { timeout: 10_000 })
    expect(await page.isHidden('#login')).toBe(true)
  } finally {
    await context.close()
    await supernode.stop()
    await origin.close()
  }
}, 90_000)
