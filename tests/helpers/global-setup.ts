import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Process tests run the built CLI (`bin/dragonfly.mjs` → `dist/`), so build it
 * from the current sources once. Every temp dir of the run (tests, CLI
 * processes, registries, browsers) goes under one TMPDIR that is removed at
 * the end: a full run writes about 1 GB of files. DRAGONFLY_KEEP_TMP=1 keeps it.
 */
export default function setup(): () => void {
  if (process.env.DRAGONFLY_SKIP_BUILD !== '1') execFileSync('npx', ['unbuild'], { stdio: 'ignore' })
  const runDir = mkdtempSync(join(tmpdir(), 'df-run-'))
  process.env.TMPDIR = runDir
  return () => {
    if (process.env.DRAGONFLY_KEEP_TMP === '1') return console.log(`test files kept in ${runDir}`)
    rmSync(runDir, { recursive: true, force: true, maxRetries: 3 })
  }
}
