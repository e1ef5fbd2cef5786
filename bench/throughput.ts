/**
 * One peer gets a file from a warm supernode, alternating with curl fetching
 * the same file from the same origin; medians over rounds. Prints the
 * throughput ratio (peer / curl), the machine's busy CPU per run on each
 * side, and the peak RSS of the peer and of the supernode while it served.
 * `--runtime` runs both on Node, Bun or Deno; `--supernode-runtime` and
 * `--get-runtime` mix them. `--via proxy` fetches with `curl -x`
 * through a `dragonfly daemon` on the get runtime instead (started before each round, as a
 * host's service is; its peak RSS is the peer's): the path of an HTTP_PROXY
 * client, and of containerd or skopeo through the registry mirror.
 *
 *   npm run bench:throughput -- --size 1024 --rounds 5
 *   npm run bench:throughput -- --runtime bun
 *   npm run bench:throughput -- --supernode-runtime deno --get-runtime node
 *   npm run bench:throughput -- --size 1024 --rounds 5 --via proxy
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBenchOrigin, writeBenchFile } from './lib/origin.ts'
import { machineBusySeconds, procUsage } from './lib/proc-stats.ts'
import { BIN, type Finished, flag, median, peakRssOf, run, startDaemon, startSupernode } from './lib/processes.ts'
import { resetPeakRss, runtimeCommand, runtimeFlag } from './lib/runtimes.ts'

const MiB = 1024 * 1024
const size = flag('size', 256) * MiB
const rounds = flag('rounds', 3)
const both = runtimeFlag('runtime', 'node')
const snRuntime = runtimeFlag('supernode-runtime', both)
const getRuntime = runtimeFlag('get-runtime', both)
const [getCmd, ...getPre] = runtimeCommand(getRuntime, BIN)
const viaIndex = process.argv.indexOf('--via')
const via = viaIndex < 0 ? 'get' : process.argv[viaIndex + 1]
if (via !== 'get' && via !== 'proxy') throw new Error('--via must be get or proxy')

const dir = await mkdtemp(join(tmpdir(), 'df-bench-'))
const file = join(dir, 'file.bin')
await writeBenchFile(file, size)
const origin = await startBenchOrigin(file)
const { url } = origin
const sn = await startSupernode(join(dir, 'sn'), [], [], snRuntime)
// The daemon's proxy takes the origin's file through the swarm (a rule matching it).
const proxyConfig = join(dir, 'proxy.config.json')
await writeFile(proxyConfig, JSON.stringify({ daemon: { proxyRules: ['/file\\.bin$'] } }))
let failed = false
try {
  const warm = await run(getCmd, [...getPre, 'get', url, '-o', join(dir, 'warm'), '--supernode', sn.url, '--home', join(dir, 'warm-home'), '--json'])
  if (warm.code !== 0) throw new Error(`warm-up get failed: ${warm.stderr}`)
  // The origin's file and the supernode's copy were just written: flush them now, not during the rounds
  // (the kernel's writeback of 2 GiB ran beside the first rounds and slowed both sides).
  await run('sync', [])
  const curl: number[] = []
  const peer: number[] = []
  const rss: number[] = []
  // The supernode's peak while it served each get (its window restarts before each one), where /proc allows.
  const snRss: number[] = []
  // The machine's busy CPU-s during each run: curl + the origin, and get + the supernode (and anything else running).
  const curlCpu: number[] = []
  const peerCpu: number[] = []
  const measured = async (cpu: number[], cmd: string, args: string[]): Promise<Finished> => {
    const before = machineBusySeconds()
    const done = await run(cmd, args)
    if (before !== null) cpu.push(machineBusySeconds()! - before)
    return done
  }
  for (let i = 0; i < rounds; i++) {
    // Each writes a new file, removed once timed: replacing a file costs an ext4 flush (auto_da_alloc),
    // and a gigabyte left dirty by one run would be written back during the other's.
    const c = await measured(curlCpu, 'curl', ['-sf', '-o', join(dir, 'curl.out'), url])
    if (c.code !== 0) throw new Error(`curl failed (${c.code})`)
    curl.push(c.ms)
    await rm(join(dir, 'curl.out'), { force: true })
    const home = join(dir, `home-${i}`)
    const daemon = via === 'proxy' ? await startDaemon(home, sn.url, ['--config', proxyConfig], [], getRuntime) : undefined
    const windowed = resetPeakRss(sn.child.pid!)
    const daemonRss = daemon ? peakRssOf(daemon.child.pid!, 20) : undefined
    const p = daemon
      ? await measured(peerCpu, 'curl', ['-sf', '-x', daemon.url, '-o', join(dir, 'peer.out'), url])
      : await measured(peerCpu, getCmd, [...getPre, 'get', url, '-o', join(dir, 'peer.out'), '--supernode', sn.url, '--home', home, '--json'])
    daemon?.child.kill('SIGTERM')
    if (p.code !== 0) throw new Error(`${via} failed: ${p.stderr}`)
    peer.push(p.ms)
    rss.push(daemonRss ? daemonRss() : p.peakRss)
    const snUsage = windowed ? procUsage(sn.child.pid!) : null
    if (snUsage) snRss.push(snUsage.peakRssBytes)
    await rm(join(dir, 'peer.out'), { force: true })
    await rm(join(dir, `home-${i}`), { recursive: true, force: true })
  }
  const mbps = (ms: number): number => size / MiB / (ms / 1000)
  console.log(
    via === 'proxy'
      ? `file ${size / MiB} MiB, ${rounds} rounds, alternating; curl -x through a daemon on ${getRuntime} started before each round; supernode on ${snRuntime}`
      : `file ${size / MiB} MiB, ${rounds} rounds, alternating; process start included in both; supernode on ${snRuntime}, get on ${getRuntime}`,
  )
  console.log(`curl from origin        median ${(median(curl) / 1000).toFixed(2)} s  ${mbps(median(curl)).toFixed(0)} MiB/s`)
  console.log(
    `${via === 'proxy' ? 'curl -x daemon (warm SN)' : 'dragonfly get (warm SN)'} median ${(median(peer) / 1000).toFixed(2)} s  ${mbps(median(peer)).toFixed(0)} MiB/s`,
  )
  console.log(`rounds (s): curl ${curl.map((ms) => (ms / 1000).toFixed(2)).join(' ')} | ${via} ${peer.map((ms) => (ms / 1000).toFixed(2)).join(' ')}`)
  console.log(`throughput ratio ${via}/curl: ${(median(curl) / median(peer)).toFixed(2)}x  (target >= 0.9x)`)
  if (curlCpu.length)
    console.log(
      `machine CPU per run (all cores, /proc/stat): curl + origin median ${median(curlCpu).toFixed(2)} s | ${via === 'proxy' ? 'curl + daemon' : 'get'} + supernode median ${median(peerCpu).toFixed(2)} s`,
    )
  console.log(`peer peak RSS: median ${(median(rss) / MiB).toFixed(0)} MiB, max ${(Math.max(...rss) / MiB).toFixed(0)} MiB  (target < 150 MiB)`)
  if (snRss.length)
    console.log(`supernode peak RSS while serving: median ${(median(snRss) / MiB).toFixed(0)} MiB, max ${(Math.max(...snRss) / MiB).toFixed(0)} MiB`)
} catch (error) {
  console.error(String(error))
  failed = true
} finally {
  sn.child.kill('SIGTERM')
  await origin.close()
  await rm(dir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
