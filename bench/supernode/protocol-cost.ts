import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RegisterResponse } from '../../core/protocol/api-schema.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { peerSecretHeader } from '../../core/protocol/peer-secret.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { startBenchOrigin, writeBenchFile } from '../lib/origin.ts'
import { procUsage } from '../lib/proc-stats.ts'
import { startSupernode } from '../lib/processes.ts'
import { preheat } from './run.ts'

/** Peers that sync in the second phase (registered anew, on top of the first phase's). */
const SYNCING_PEERS = 2_000

export interface ProtocolCostOptions {
  peers: number
  sizeMiB: number
  /** Syncs each peer sends after registering. */
  syncs: number
}

export interface ProtocolCost {
  options: ProtocolCostOptions
  pieceCount: number
  /** Supernode CPU per request over the whole HTTP path, µs. */
  registerUs: number
  syncUs: number
  registers: number
  syncsSent: number
  load: [number, number]
}

/**
 * The parents protocol's two requests, measured on one real supernode process
 * over its whole HTTP path (accept, parse, schema, swarm, answer), CPU from
 * /proc. `peers` registrations arrive at once, each on a new connection that
 * closes after the answer, as `dragonfly get` processes do; then up to 2,000
 * more register (not measured) and each syncs `syncs` times over a kept-alive
 * connection, each sync reporting a
 * changed piece map (one more piece held) and the bytes it received, and
 * asking no digests (what a sync between two heartbeats asks). This is what
 * bench:sim charges per register and per sync.
 */
export async function measureProtocolCost(o: ProtocolCostOptions): Promise<ProtocolCost> {
  const dir = await mkdtemp(join(tmpdir(), 'df-bench-proto-'))
  const file = join(dir, 'file.bin')
  await writeBenchFile(file, Math.round(o.sizeMiB * 2 ** 20))
  const origin = await startBenchOrigin(file)
  const sn = await startSupernode(join(dir, 'sn')).catch(async (error: unknown) => {
    await origin.close()
    throw error
  })
  const load0 = loadavg()[0]!
  try {
    await preheat(sn.url, origin.url)
    const pid = sn.child.pid!
    const post = async <T>(path: string, body: unknown, headers: Record<string, string>): Promise<T> => {
      const res = await fetch(`${sn.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      })
      const text = await res.text()
      if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${text.slice(0, 200)}`)
      return JSON.parse(text) as T
    }

    const cpu = (): number => procUsage(pid)!.cpuSeconds
    const register = (count: number, from: number): Promise<RegisterResponse[]> =>
      Promise.all(
        Array.from({ length: count }, (_, k) => {
          const i = from + k
          const peer = { address: `http://127.0.0.1:${10_000 + (i % 50_000)}`, location: `r${i % 2}|z${i % 3}|k${i % 8}` }
          return post<RegisterResponse>(SUPERNODE_ROUTES.register, { url: origin.url, peer }, { connection: 'close' })
        }),
      )
    let mark = cpu()
    await register(o.peers, 0)
    const registerUs = ((cpu() - mark) / o.peers) * 1e6
    // Registering thousands takes longer than a peer's time to live (25 s without a sync): the syncs come from
    // peers registered just before them, not measured.
    const regs = await register(Math.min(o.peers, SYNCING_PEERS), o.peers)
    const pieceCount = regs[0]!.pieceCount

    mark = cpu()
    await Promise.all(
      regs.map(async (reg, i) => {
        const have = new Bitset(pieceCount)
        for (let k = 0; k < o.syncs; k++) {
          have.set((i * 7 + k * 13) % pieceCount)
          await post(
            routePath(SUPERNODE_ROUTES.sync, { taskId: reg.taskId }),
            {
              peerId: reg.peerId,
              have: have.toBase64(),
              received: [{ from: 'supernode', pieces: 1, bytes: reg.pieceSize }],
              digestsFrom: pieceCount,
              seed: 0,
            },
            peerSecretHeader(reg.peerSecret),
          )
        }
      }),
    )
    const syncsSent = regs.length * o.syncs
    const syncUs = ((cpu() - mark) / syncsSent) * 1e6
    return { options: o, pieceCount, registerUs, syncUs, registers: o.peers, syncsSent, load: [load0, loadavg()[0]!] }
  } finally {
    sn.child.kill('SIGINT')
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export function formatProtocolCost(c: ProtocolCost): string {
  const o = c.options
  return [
    `${o.peers} peers, ${o.sizeMiB} MiB = ${c.pieceCount} pieces, load average ${c.load[0].toFixed(1)} before, ${c.load[1].toFixed(1)} after`,
    `register (new connection each)   ${c.registerUs.toFixed(0)} µs of supernode CPU per request (${c.registers})`,
    `sync (kept alive, map changed)   ${c.syncUs.toFixed(0)} µs of supernode CPU per request (${c.syncsSent})`,
  ].join('\n')
}
