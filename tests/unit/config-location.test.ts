import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { loadDragonflyConfig } from '../../config/index.ts'

async function dirWith(concurrency?: number): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'df-cfg-'))
  if (concurrency !== undefined) await writeFile(join(dir, 'dragonfly.config.json'), JSON.stringify({ peer: { concurrency } }))
  return dir
}

it('config comes from --config, then DRAGONFLY_CONFIG, then the working directory, then the system folder', async () => {
  const [flag, env, cwd, system, empty] = await Promise.all([dirWith(1), dirWith(2), dirWith(3), dirWith(4), dirWith()])
  const load = (o: { configFile?: string; env?: Record<string, string>; cwd: string }) =>
    loadDragonflyConfig({ systemDir: system, env: {}, ...o }).then((c) => c.peer.concurrency)
  const envVar = { DRAGONFLY_CONFIG: join(env, 'dragonfly.config.json') }
  expect(await load({ configFile: join(flag, 'dragonfly.config.json'), env: envVar, cwd })).toBe(1)
  expect(await load({ env: envVar, cwd })).toBe(2)
  expect(await load({ cwd })).toBe(3)
  expect(await load({ cwd: empty })).toBe(4)
  // Control: with no file anywhere the default stands.
  expect(await loadDragonflyConfig({ systemDir: join(empty, 'none'), env: {}, cwd: empty }).then((c) => c.peer.concurrency)).not.toBe(4)
})

it('a DRAGONFLY_CONFIG that names no file is E_CONFIG, not a silent default', async () => {
  const cwd = await dirWith()
  await expect(loadDragonflyConfig({ env: { DRAGONFLY_CONFIG: join(cwd, 'missing.json') }, cwd, systemDir: cwd })).rejects.toMatchObject({
    code: 'E_CONFIG',
  })
})
