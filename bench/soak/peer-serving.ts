/**
 * Does a long `get` keep anything of the peers it serves? One `dragonfly get`
 * (the built CLI) downloads a file its supernode reads from a paced origin, so
 * it runs for `--seconds`; meanwhile `--clients` requesters ask its piece
 * server for pieces, each on a new connection as a stream of distinct peers
 * would (pieces it does not hold yet answer 404, also a path to check). Its
 * live heap (a snapshot, after a full GC) is read at a quarter and at 85 % of
 * the download.
 *
 *   node --import jiti/register bench/soak/peer-serving.ts [--size 64] [--seconds 40] [--clients 16]
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { Agent, get } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { startBenchOrigin, writeBenchFile } from '../lib/origin.ts'
import { procUsage } from '../lib/proc-stats.ts'
import { BIN, startSupernode } from '../lib/processes.ts'
import { classGrowth } from './class-growth.ts'
import { heapSnapshotFlags, measureHeap } from './heap-probe.ts'
import type { HeapSummary } from './heap-snapshot.ts'

const MiB = 2 ** 20
const { values } = parseArgs({ options: { size: { type: 'string' }, seconds: { type: 'string' }, clients: { type: 'string' } } })
const sizeMiB = Number(values.size ?? 64)
const seconds = Number(values.seconds ?? 40)
const clients = Number(values.clients ?? 16)
if (![sizeMiB, seconds, clients].every((x) => Number.isFinite(x) && x > 0)) {
  console.error('--size, --seconds and --clients must be positive numbers')
  process.exit(2)
}

const dir = await mkdtemp(join(tmpdir(), 'df-soak-serve-'))
const snapshots = join(dir, 'heap')
await mkdir(snapshots)
const file = join(dir, 'file.bin')
await writeBenchFile(file, sizeMiB * MiB)
const origin = await startBenchOrigin(file, (sizeMiB * MiB) / seconds)
const sn = await startSupernode(join(dir, 'sn'))
let getter: ChildProcess | undefined
try {
  const args = [
    ...heapSnapshotFlags(snapshots),
    BIN,
    'get',
    origin.url,
    '-o',
    join(dir, 'out'),
    '-s',
    sn.url,
    '--home',
    join(dir, 'peer'),
    '--daemon',
    'off',
    '-q',
  ]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  getter = child
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<number>((done) => child.on('close', (code) => done(code ?? 1)))
  const started = performance.now()

  // The get's piece server, as the supernode hands it to other peers.
  let target: { address: string; taskId: string; pieceCount: number } | undefined
  while (!target && performance.now() - started < 30_000) {
    await sleep(200)
    const { tasks } = (await (await fetch(`${sn.url}${SUPERNODE_ROUTES.tasks}`)).json()) as { tasks: { taskId: string; pieceCount: number }[] }
    const task = tasks[0]
    if (!task) continue
    const detail = (await (await fetch(`${sn.url}${routePath(SUPERNODE_ROUTES.task, { taskId: task.taskId })}`)).json()) as { peers: { address: string }[] }
    if (detail.peers[0]) target = { address: detail.peers[0].address, taskId: task.taskId, pieceCount: task.pieceCount }
  }
  if (!target) throw new Error(`the get never joined the swarm: ${stderr}`)

  const counts = { served: 0, notHere: 0, failed: 0 }
  const agent = new Agent({ keepAlive: false })
  let running = true
  const ask = (piece: number): Promise<void> =>
    new Promise((resolve) => {
      const req = get(`${target.address}/pieces/${target.taskId}/${piece}`, { agent }, (res) => {
        res.on('data', () => {})
        res.on('end', () => {
          if (res.statusCode === 200) counts.served++
          else if (res.statusCode === 404) counts.notHere++
          else counts.failed++
          resolve()
        })
      })
      req.on('error', () => {
        counts.failed++
        resolve()
      })
    })
  const requesters = Array.from({ length: clients }, async () => {
    while (running) await ask(Math.floor(Math.random() * target.pieceCount))
  })

  const readings: { at: string; requests: number; heapMiB: number; rssMiB: number; summary: HeapSummary }[] = []
  const read = async (at: string): Promise<void> => {
    const requests = counts.served + counts.notHere + counts.failed
    const heap = await measureHeap(child.pid!, snapshots)
    readings.push({ at, requests, heapMiB: heap.bytes / MiB, rssMiB: (procUsage(child.pid!)?.rssBytes ?? 0) / MiB, summary: heap })
  }
  await sleep(seconds * 250)
  await read('25 %')
  await sleep(seconds * 600)
  if (child.exitCode === null) await read('85 %')
  running = false
  await Promise.all(requesters)
  const code = await exited
  for (const r of readings) console.log(`at ${r.at}: ${r.requests} piece requests; live heap ${r.heapMiB.toFixed(2)} MiB, RSS ${r.rssMiB.toFixed(0)} MiB`)
  console.log(`requests: ${counts.served} pieces served, ${counts.notHere} not held yet, ${counts.failed} failed; get exited ${code}`)
  if (readings.length === 2) {
    const [a, b] = readings as [(typeof readings)[0], (typeof readings)[0]]
    console.log(`heap growth: ${(((b.heapMiB - a.heapMiB) * MiB) / (b.requests - a.requests)).toFixed(1)} bytes per request; most grown:`)
    for (const line of classGrowth(a.summary, b.summary)) console.log(`  ${line}`)
  } else console.log('the get finished before the second reading: raise --seconds')
  process.exitCode = code === 0 ? 0 : 1
} finally {
  getter?.kill()
  sn.child.kill()
  await origin.close()
  await rm(dir, { recursive: true, force: true })
}
