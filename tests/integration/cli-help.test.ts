import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { BIN, randomFile, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'

const COMMANDS = ['get', 'supernode', 'daemon', 'preheat', 'status', 'demo']
// SGR sequences (colours, bold); cursor movement of the progress bar is not colour.
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what is looked for
const COLOUR = /\u001b\[[0-9;]*m/

const envWithout = (...names: string[]): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !names.includes(k)))

let origin: Origin
let root: string
beforeAll(async () => {
  root = await tempDir()
  origin = await startOrigin(await randomFile(root, 64 * 1024))
})
afterAll(() => origin.close())

it('help of every command fits 80 columns, lists --log-format, and has no colour codes in a pipe', () => {
  for (const args of [['--help'], ...COMMANDS.map((c) => [c, '--help'])]) {
    const run = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: envWithout('NO_COLOR') })
    expect(run.status, args.join(' ')).toBe(0)
    const long = run.stdout.split('\n').filter((l) => l.length > 80)
    expect(long, args.join(' ')).toEqual([])
    expect(run.stdout).not.toMatch(COLOUR)
    if (args.length > 1) expect(run.stdout).toContain('--log-format')
  }
})

/** Like spawnSync, but leaves the event loop free: the origin runs in this process. */
function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  return new Promise((done) => child.on('close', (status) => done({ status, stdout, stderr })))
}

/** `get` on a real terminal (util-linux `script`), 80 columns wide. */
async function getOnTerminal(env: NodeJS.ProcessEnv): Promise<string> {
  const out = join(root, `out-${Math.random()}`)
  const command = `stty cols 80; '${process.execPath}' '${BIN}' get '${origin.url()}' -o '${out}' --home '${join(root, 'home')}' --daemon off`
  const result = await run('script', ['-qec', command, '/dev/null'], env)
  expect(result.status, result.stdout).toBe(0)
  return result.stdout
}

it('logs are coloured on a terminal, and not when NO_COLOR is set', async () => {
  expect(await getOnTerminal({ ...envWithout('NO_COLOR', 'CI', 'TEST', 'VITEST', 'NODE_ENV'), TERM: 'xterm' })).toMatch(COLOUR) // control
  expect(await getOnTerminal({ ...envWithout('CI', 'TEST', 'VITEST', 'NODE_ENV'), TERM: 'xterm', NO_COLOR: '1' })).not.toMatch(COLOUR)
})

it('logs piped to a file have no colour codes', async () => {
  const args = [BIN, 'get', origin.url(), '-o', join(root, 'piped'), '--home', join(root, 'home'), '--daemon', 'off']
  const result = await run(process.execPath, args, { ...envWithout('NO_COLOR'), FORCE_COLOR: '' })
  expect(result.status).toBe(0)
  expect(result.stdout + result.stderr).toContain('piped')
  expect(result.stdout + result.stderr).not.toMatch(COLOUR)
})
