import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { type RedisServer, startRedis } from '../helpers/redis.ts'
import { type FileOrigin, startFileOrigin, writeRandomFile } from './file-origin.ts'
import {
  assertBuilt,
  cleanup,
  describeProc,
  parseJsonOutput,
  RUNTIMES,
  runDragonfly,
  type SupernodeProc,
  sha256File,
  startSupernode,
  tempDir,
} from './processes.ts'

// One supernode cluster on a real redis-server with a member on each runtime (`supernode --cluster` on
// Node, Bun and Deno at once): each member schedules the peers of its region, they share one task, and
// the origin is read about once. Needs `npm run build` first.

const MiB = 1024 * 1024
const SIZE = 16 * MiB

let dir: string
let cwd: string
let redis: RedisServer
let origin: FileOrigin
let sourceFile: string

beforeAll(async () => {
  assertBuilt()
  dir = await tempDir('df-cluster-rt-')
  cwd = await tempDir('df-cluster-rt-cwd-')
  redis = await startRedis(dir)
  sourceFile = await writeRandomFile(dir, SIZE)
  origin = await startFileOrigin(sourceFile, { rate: 8 * MiB })
}, 60_000)

afterAll(async () => {
  await cleanup()
  await redis?.stop()
  await origin?.close()
}, 60_000)

interface GetJson {
  supernode: string | null
  backToSource: boolean
  bytes: number
}

describe('supernode cluster with a member on Node, Bun and Deno', () => {
  it('each member schedules its region, every output matches, and the source is read about once', async () => {
    const members: SupernodeProc[] = await Promise.all(
      RUNTIMES.map((runtime, i) => startSupernode(runtime, join(dir, `sn-${runtime}`), cwd, ['--cluster', redis.url, '--location', `r${i}`])),
    )
    // Every member lists all three before a peer asks (membership goes through Redis).
    for (const member of members) {
      for (let tries = 0; ; tries++) {
        const { supernodes } = (await (await fetch(`${member.url}${SUPERNODE_ROUTES.supernodes}`)).json()) as { supernodes: unknown[] }
        if (supernodes.length === members.length) break
        if (tries > 300) throw new Error(`${member.proc.runtime} lists ${supernodes.length} supernodes\n${describeProc(member.proc)}`)
        await new Promise((done) => setTimeout(done, 100))
      }
    }
    const gets = RUNTIMES.map((_, i) => {
      const output = join(dir, `out-${i}.bin`)
      const args = [
        'get',
        origin.url,
        '-o',
        output,
        '--home',
        join(dir, `peer-${i}`),
        '--location',
        `r${i}|z1`,
        '--no-back-source',
        '--daemon',
        'off',
        '--json',
      ]
      // Every peer knows every member; its region picks the one that schedules it.
      for (const member of members) args.push('--supernode', member.url)
      return { output, proc: runDragonfly('node', args, cwd) }
    })
    const codes = await Promise.all(gets.map((g) => g.proc.exited))
    for (const [i, g] of gets.entries()) expect(codes[i], describeProc(g.proc)).toBe(0)
    const want = await sha256File(sourceFile)
    for (const g of gets) expect(await sha256File(g.output)).toBe(want)
    const results = gets.map((g) => parseJsonOutput<GetJson>(g.proc))
    expect(results.map((r) => r.supernode)).toEqual(members.map((m) => m.url))
    expect(results.every((r) => !r.backToSource && r.bytes === SIZE)).toBe(true)
    expect(origin.bytesServed / SIZE, members.map((m) => describeProc(m.proc)).join('\n')).toBeLessThanOrEqual(1.02)
    for (const member of members) expect(await member.stop(), describeProc(member.proc)).toBe(0)
  }, 240_000)
})
