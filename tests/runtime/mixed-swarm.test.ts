import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { type FileOrigin, startFileOrigin, writeRandomFile } from './file-origin.ts'
import {
  assertBuilt,
  cleanup,
  describeProc,
  parseJsonOutput,
  type RuntimeName,
  runDragonfly,
  sha256File,
  startDaemon,
  startSupernode,
  tempDir,
} from './processes.ts'

// One swarm across runtimes: the supernode on Bun, peers on Deno, Node and Bun,
// and a daemon on Deno (a Node `get` hands its download to it), so every piece
// crosses a runtime boundary. Needs `npm run build` first.

const SIZE = 24 * 1024 * 1024
const PEERS: RuntimeName[] = ['deno', 'node', 'bun']

let origin: FileOrigin
let sourceFile: string
let cwd: string

beforeAll(async () => {
  assertBuilt()
  cwd = await tempDir('df-mix-cwd-')
  sourceFile = await writeRandomFile(await tempDir('df-mix-src-'), SIZE)
  // The origin holds the body after 1 MiB until every peer has joined, then trickles,
  // so the peers overlap in time and have pieces to trade (process start-up varies a lot).
  origin = await startFileOrigin(sourceFile, { holdAfter: 1024 * 1024, rate: 12 * 1024 * 1024 })
}, 60_000)

afterAll(async () => {
  await cleanup()
  await origin?.close()
}, 60_000)

interface GetJson {
  bytes: number
  digest: string
  backToSource: boolean
  bytesFromPeers: number
  bytesFromSupernode: number
}

async function waitForPeers(supernodeUrl: string, count: number, deadlineMs: number): Promise<number> {
  const until = Date.now() + deadlineMs
  let seen = 0
  while (Date.now() < until) {
    const list = (await fetch(`${supernodeUrl}${SUPERNODE_ROUTES.tasks}`).then((r) => r.json())) as { tasks: { peers: number }[] }
    seen = list.tasks[0]?.peers ?? 0
    if (seen >= count) break
    await new Promise((done) => setTimeout(done, 200))
  }
  return seen
}

describe('mixed swarm: supernode on bun, peers on deno, node and bun, daemon on deno', () => {
  it('every peer writes the same file, the origin sends it about once, and peers of different runtimes trade pieces', async () => {
    const home = await tempDir('df-mix-')
    const supernode = await startSupernode('bun', join(home, 'supernode'), cwd)
    const daemon = await startDaemon('deno', join(home, 'daemon-deno'), supernode.url, cwd)
    const peers = PEERS.map((runtime, i) => {
      const dir = join(home, `peer-${i + 1}-${runtime}`)
      const output = join(home, `out-${i + 1}-${runtime}.bin`)
      const proc = runDragonfly(runtime, ['get', origin.url, '-o', output, '--supernode', supernode.url, '--daemon', 'off', '--json', '--home', dir], cwd)
      return { runtime: runtime as string, output, proc }
    })
    const viaDaemon = join(home, 'out-daemon-deno.bin')
    peers.push({
      runtime: 'daemon on deno',
      output: viaDaemon,
      proc: runDragonfly('node', ['get', origin.url, '-o', viaDaemon, '--daemon', daemon.url, '--json'], cwd),
    })
    const joined = await waitForPeers(supernode.url, peers.length, 90_000)
    origin.release()
    const codes = await Promise.all(peers.map((p) => p.proc.exited))
    for (const [i, p] of peers.entries()) expect(codes[i], describeProc(p.proc)).toBe(0)

    const expected = await sha256File(sourceFile)
    const results = peers.map((p) => parseJsonOutput<GetJson>(p.proc))
    for (const [i, p] of peers.entries()) {
      expect(await sha256File(p.output), `${p.runtime} output`).toBe(expected)
      expect(results[i], p.runtime).toMatchObject({ bytes: SIZE, digest: `sha256:${expected}`, backToSource: false })
    }
    expect(origin.bytesServed).toBeLessThanOrEqual(SIZE * 1.01)
    expect(joined, 'peers seen on the task before the origin was released').toBe(peers.length)
    const fromPeers = results.reduce((sum, r) => sum + r.bytesFromPeers, 0)
    expect(fromPeers, JSON.stringify(results)).toBeGreaterThan(0)

    expect(await daemon.stop(), describeProc(daemon.proc)).toBe(0)
    expect(await supernode.stop(), describeProc(supernode.proc)).toBe(0)
  }, 300_000)
})
