import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dirname, '../..')

/** How to run a fixture (a TypeScript file, from the sources) on each runtime. */
export function fixtureCommands(fixture: string) {
  return {
    bun: [join(ROOT, 'node_modules/.bin/bun'), fixture],
    deno: [join(ROOT, 'node_modules/.bin/deno'), 'run', '-A', fixture],
    node: [process.execPath, '--import', 'jiti/register', fixture],
  } as const
}

/**
 * Runs a fixture; resolves with its JSON result line, or with everything it printed when there is none.
 * With `exitWithinMs`, a fixture still running that long is killed, and `exited` says whether it ended on its own.
 */
export function runFixture(
  command: readonly string[],
  exitWithinMs?: number,
): Promise<{ result?: unknown; output: string; exited: boolean; exitCode: number | null }> {
  const [cmd, ...args] = command
  const child = spawn(cmd!, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' } })
  let output = ''
  let exited = true
  child.stdout.on('data', (d: Buffer) => (output += d))
  child.stderr.on('data', (d: Buffer) => (output += d))
  const timer = exitWithinMs === undefined ? undefined : setTimeout(() => ((exited = false), child.kill('SIGKILL')), exitWithinMs)
  return new Promise((done) =>
    child.on('close', (exitCode) => {
      clearTimeout(timer)
      const line = output.split('\n').find((l) => l.startsWith('{'))
      done({ result: line === undefined ? undefined : JSON.parse(line), output, exited, exitCode })
    }),
  )
}
