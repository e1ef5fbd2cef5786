import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseRate } from '../../core/size.ts'
import { startBenchOrigin, writeBenchFile } from '../lib/origin.ts'
import { BIN, type Finished, run, startSupernode } from '../lib/processes.ts'

export interface SwarmBenchOptions {
  /** Peers (N). */
  peers: number
  sizeMiB: number
  /** Every link's rate, as the CLI takes it (`25MB` = 25 MiB/s, binary units). */
  rate: string
}

export const DEFAULT_SWARM_BENCH: SwarmBenchOptions = { peers: 8, sizeMiB: 6, rate: '2MB' }

/** One phase: N `dragonfly get` processes started together. */
export interface PhaseResult {
  /** Spawn to exit of the last process, seconds. */
  lastSeconds: number
  /** Longest download as the peers measured it (`durationMs`: registration to verified file), seconds. */
  lastDownloadSeconds: number
  medianSeconds: number
  /** Bytes the origin sent, in file sizes. */
  sourceEgress: number
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
  failures: string[]
}

export interface SwarmBenchResult {
  options: SwarmBenchOptions
  fileBytes: number
  rateBytes: number
  /** max(F/u_s, F/d, N·F/(u_s + Σu_i)) with every link at `rate`. */
  bound: { seconds: number; seedUpload: number; download: number; swarmUpload: number }
  p2p: PhaseResult
  direct: PhaseResult
}

/**
 * In one run: N peers get the file through a cold supernode (P2P), then the
 * same N clients get it straight from the source (no supernode: back to
 * source). Every host, the supernode and the origin are limited to `rate`
 * in each direction; the origin paces itself, the CLI processes use
 * `--total-limit` (per host, both directions).
 */
export async function runSwarmBench(options: SwarmBenchOptions): Promise<SwarmBenchResult> {
  const rateBytes = parseRate(options.rate, '--rate')
  if (!rateBytes) throw new Error('--rate must be a positive rate, e.g. 25MB')
  const dir = await mkdtemp(join(tmpdir(), 'df-bench-swarm-'))
  const F = Math.round(options.sizeMiB * 2 ** 20)
  try {
    const file = join(dir, 'file.bin')
    await writeBenchFile(file, F)
    const digest = `sha256:${await sha256(file)}`
    const limit = ['--total-limit', options.rate]

    const p2pOrigin = await startBenchOrigin(file, rateBytes)
    const sn = await startSupernode(join(dir, 'sn'), limit)
    let p2p: PhaseResult
    try {
      p2p = await phase(
        options.peers,
        F,
        (i) => [
          'get',
          p2pOrigin.url,
          '-o',
          join(dir, `p2p-${i}.out`),
          '--home',
          join(dir, `p2p-${i}`),
          '--supernode',
          sn.url,
          '--digest',
          digest,
          '--daemon',
          'off',
          '--json',
          ...limit,
        ],
        () => p2pOrigin.bytes,
      )
    } finally {
      sn.child.kill('SIGTERM')
      await p2pOrigin.close()
    }
    await rm(join(dir, 'sn'), { recursive: true, force: true })

    const directOrigin = await startBenchOrigin(file, rateBytes)
    let direct: PhaseResult
    try {
      direct = await phase(
        options.peers,
        F,
        (i) => [
          'get',
          directOrigin.url,
          '-o',
          join(dir, `direct-${i}.out`),
          '--home',
          join(dir, `direct-${i}`),
          '--digest',
          digest,
          '--daemon',
          'off',
          '--json',
          ...limit,
        ],
        () => directOrigin.bytes,
      )
    } finally {
      await directOrigin.close()
    }

    const N = options.peers
    const seedUpload = F / rateBytes
    const download = F / rateBytes
    const swarmUpload = (N * F) / (rateBytes + N * rateBytes)
    return { options, fileBytes: F, rateBytes, bound: { seconds: Math.max(seedUpload, download, swarmUpload), seedUpload, download, swarmUpload }, p2p, direct }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Starts N gets at once; each must exit 0 with a verified file of F bytes (`--digest` makes the peer check it). */
async function phase(n: number, F: number, args: (i: number) => string[], originBytes: () => number): Promise<PhaseResult> {
  const runs: Promise<Finished>[] = Array.from({ length: n }, (_, i) => run(process.execPath, [BIN, ...args(i)]))
  const done = await Promise.all(runs)
  const failures: string[] = []
  const totals = { bytesFromPeers: 0, bytesFromSupernode: 0, bytesFromSource: 0 }
  const downloads: number[] = []
  for (const [i, d] of done.entries()) {
    if (d.code !== 0) {
      // With --json a get reports its error as a JSON line on stdout; stderr may hold nothing.
      const said = d.stderr.trim() || d.stdout.trim()
      failures.push(`peer ${i} exited ${d.code}: ${said.split('\n').pop()}`)
      continue
    }
    const out = JSON.parse(d.stdout.trim().split('\n').pop()!) as { output: string; bytes: number; durationMs: number } & typeof totals
    if (out.bytes !== F || (await stat(out.output)).size !== F) failures.push(`peer ${i}: ${out.bytes} bytes, expected ${F}`)
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += out[k] ?? 0
    downloads.push(out.durationMs / 1000)
  }
  const seconds = done.map((d) => d.ms / 1000).sort((a, b) => a - b)
  return {
    lastSeconds: seconds[seconds.length - 1]!,
    lastDownloadSeconds: Math.max(...downloads),
    medianSeconds: seconds[Math.floor(seconds.length / 2)]!,
    sourceEgress: originBytes() / F,
    ...totals,
    failures,
  }
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
