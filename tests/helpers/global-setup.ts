import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Process tests run the built CLI (`bin/dragonfly.cjs` → `dist/`), so build it
 * from the current sources once. Every temp dir of the run (tests, CLI
 * processes, registries, browsers) goes under one TMPDIR that is removed at
 * the end: a full run writes about 1 GB of files. DRAGONFLY_KEEP_TMP=1 keeps it.
 */
export default function setup(): () => void {
  if (process.env.DRAGONFLY_SKIP_BUILD !== '1') execFileSync('npx', ['unbuild'], { stdio: 'ignore' })
  const runDir = mkdtempSync(join(tmpdir(), 'df-run-'))
  process.env.TMPDIR = runDir
  return () => {
    killLeftovers(runDir)
    if (process.env.DRAGONFLY_KEEP_TMP === '1') return console.log(`test files kept in ${runDir}`)
    rmSync(runDir, { recursive: true, force: true, maxRetries: 3 })
  }
}

/**
 * Processes a test started and never stopped (a test that failed before its
 * `finally`: redis-server, registries, supernodes) name the run's directory
 * in their arguments or work in it; none may outlive the run.
 */
function killLeftovers(runDir: string): void {
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    if (Number(pid) === process.pid) continue
    let cmdline = ''
    let cwd = ''
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      cwd = readlinkSync(`/proc/${pid}/cwd`)
    } catch {
      continue
    }
    // redis-server rewrites its arguments but works in its --dir.
    if (!cmdline.includes(runDir) && !cwd.startsWith(runDir)) continue
    try {
      process.kill(Number(pid), 'SIGKILL')
      console.warn(`killed a process the tests left running: ${cmdline.replaceAll('\0', ' ').slice(0, 160)}`)
    } catch {}
  }
}
