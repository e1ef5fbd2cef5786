import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type FileOrigin, startFileOrigin, writeRandomFile } from './file-origin.ts'
import { assertBuilt, cleanup, describeProc, parseJsonOutput, RUNTIMES, runDragonfly, sha256File, startSupernode, tempDir } from './processes.ts'

// Each role of the built CLI, started the way a user starts it, on Node, Bun and Deno.
// Needs `npm run build` first (dist/ is what runs).

const SIZE = 8 * 1024 * 1024
/** What a runtime prints when it warns: Node's `(node:123) …Warning`, Bun's and Deno's `warning:`, deprecations. */
const RUNTIME_WARNING = /warn|deprecat/i
const ROLE_TIMEOUT = 180_000

let origin: FileOrigin
let sourceHex: string
let cwd: string

beforeAll(async () => {
  assertBuilt()
  cwd = await tempDir('df-rt-cwd-')
  const file = await writeRandomFile(await tempDir('df-rt-src-'), SIZE)
  sourceHex = createHash('sha256')
    .update(await readFile(file))
    .digest('hex')
  origin = await startFileOrigin(file)
}, 60_000)

afterAll(async () => {
  await cleanup()
  await origin?.close()
}, 60_000)

interface GetJson {
  output: string
  taskId: string
  bytes: number
  pieces: number
  durationMs: number
  digest: string
  supernode: string | null
  backToSource: boolean
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
}

interface DemoJson {
  peers: number
  bytes: number
  identical: boolean
  digest: string
  sourceEgressRatio: number
}

describe.each(RUNTIMES)('runtime smoke: %s', (runtime) => {
  it(
    `supernode and get both on ${runtime}: the output is the source, byte for byte`,
    async () => {
      const home = await tempDir(`df-rt-${runtime}-`)
      const servedBefore = origin.bytesServed
      const supernode = await startSupernode(runtime, join(home, 'supernode'), cwd)
      const output = join(home, 'out.bin')
      const get = runDragonfly(runtime, ['get', origin.url, '-o', output, '--supernode', supernode.url, '--json', '--home', join(home, 'peer')], cwd)
      const code = await get.exited
      expect(code, describeProc(get)).toBe(0)

      const result = parseJsonOutput<GetJson>(get)
      expect(await sha256File(output)).toBe(sourceHex)
      expect(result).toMatchObject({
        output,
        bytes: SIZE,
        digest: `sha256:${sourceHex}`,
        supernode: supernode.url,
        backToSource: false,
        bytesFromSupernode: SIZE,
        bytesFromSource: 0,
      })
      expect(result.taskId).toMatch(/^[0-9a-f]{64}$/)
      expect(result.pieces).toBeGreaterThan(1)
      expect(typeof result.durationMs).toBe('number')
      expect(typeof result.bytesFromPeers).toBe('number')
      // A fresh supernode fetched the file from the origin once.
      expect(origin.bytesServed - servedBefore).toBeLessThanOrEqual(SIZE * 1.01)

      expect(await supernode.stop(), describeProc(supernode.proc)).toBe(0)
      expect(supernode.proc.stdout + supernode.proc.stderr).toContain('supernode shutting down')
      // No runtime's own warnings (deprecations, experimental APIs, Deno's legacy abort notice) reach the user's logs.
      expect(get.stderr + supernode.proc.stderr, describeProc(get)).not.toMatch(RUNTIME_WARNING)
    },
    ROLE_TIMEOUT,
  )

  it(
    `demo on ${runtime}: a whole swarm in one process agrees on the content`,
    async () => {
      const demo = runDragonfly(runtime, ['demo', '--peers', '3', '--size', '8', '--json'], cwd)
      expect(await demo.exited, describeProc(demo)).toBe(0)
      const report = parseJsonOutput<DemoJson>(demo)
      expect(report).toMatchObject({ peers: 3, bytes: SIZE, identical: true })
      expect(report.digest).toMatch(/^sha256:[0-9a-f]{64}$/)
      expect(report.sourceEgressRatio).toBeLessThanOrEqual(1.01)
      expect(demo.stderr, describeProc(demo)).not.toMatch(RUNTIME_WARNING)
    },
    ROLE_TIMEOUT,
  )
})
