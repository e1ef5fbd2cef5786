import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Launched } from '../launch.ts'
import { inNamespace } from '../netns.ts'
import type { HostRun, SystemContext, SystemOutcome } from './system.ts'

const TRACKER_PORT = 6969
const BT_PORT = 6881

/**
 * The swarm to compare with: opentracker on host 0, a private torrent of the
 * file (mktorrent, 1 MiB pieces), one aria2c seeding it from the file on
 * host 0, and one aria2c leecher per peer host, all started at once. Every
 * leecher keeps seeding after it completes (`--seed-ratio=0.0`) until the
 * last one is done, then all are stopped. Completion is the moment aria2
 * runs its `--on-bt-download-complete` hook: every piece verified, before
 * seeding. No DHT, local peer discovery or peer exchange: the tracker is the
 * only way to find peers.
 */
export async function runAria2(ctx: SystemContext): Promise<SystemOutcome> {
  const torrent = join(ctx.dir, 'file.torrent')
  const trackerDir = join(ctx.dir, 'tracker')
  await mkdir(trackerDir, { recursive: true })
  const announce = `http://${ctx.source.ip}:${TRACKER_PORT}/announce`
  execFileSync('mktorrent', ['-l', '20', '-p', '-a', announce, '-n', basename(ctx.file), '-o', torrent, ctx.file], { stdio: 'ignore' })
  const infoHash = /Info Hash: ([0-9a-f]{40})/.exec(execFileSync('aria2c', ['-S', torrent], { encoding: 'utf8' }))?.[1]
  if (!infoHash) throw new Error('aria2c -S did not print the torrent info hash')
  // Debian's opentracker only serves whitelisted torrents; it reads the list inside its chroot (-d).
  await writeFile(join(trackerDir, 'whitelist'), `${infoHash}\n`)
  const hook = join(ctx.dir, 'completed.sh')
  // aria2 passes GID, file count, path: the hook stamps the completion time beside the file.
  await writeFile(hook, '#!/bin/sh\ndate +%s%N > "$3.done"\n')
  await chmod(hook, 0o755)

  const started: Launched[] = []
  const start = (...args: Parameters<SystemContext['start']>): Launched => {
    const l = ctx.start(...args)
    started.push(l)
    return l
  }
  try {
    start(
      ctx.source,
      ['opentracker', '-i', ctx.source.ip, '-p', String(TRACKER_PORT), '-P', String(TRACKER_PORT), '-d', trackerDir, '-w', 'whitelist'],
      trackerDir,
    )
    start(ctx.source, ['aria2c', ...COMMON, '--check-integrity=true', `--dir=${dirname(ctx.file)}`, torrent], ctx.dir)
    await untilSeeding(ctx, infoHash)
    const runs = await Promise.all(
      ctx.peers.map(async (h) => {
        const dir = join(ctx.dir, `peer-${h.index}`)
        await mkdir(dir, { recursive: true })
        return { h, output: join(dir, basename(ctx.file)), dir }
      }),
    )
    ctx.markStart()
    const leechers = runs.map(({ h, dir }) => start(h, ['aria2c', ...COMMON, `--dir=${dir}`, `--on-bt-download-complete=${hook}`, torrent], dir))
    const doneAt = await untilCompleted(
      runs.map((r) => `${r.output}.done`),
      leechers,
      Date.now() + ctx.timeoutMs,
    )
    ctx.markEnd()
    const hosts = runs.map(({ h, output }, i): HostRun => {
      const at = doneAt[i]
      if (at !== undefined) return { host: h.index, seconds: (at - leechers[i]!.startedAt) / 1000, output }
      return { host: h.index, seconds: null, output, failure: `aria2c did not complete: ${leechers[i]!.output().trim().slice(-300)}` }
    })
    return { hosts }
  } finally {
    // Leechers and the seeder first, so that their last announce finds the tracker.
    await Promise.all(started.slice(1).map((l) => ctx.launcher.stop(l)))
    if (started[0]) await ctx.launcher.stop(started[0])
  }
}

const COMMON = [
  '--no-conf=true',
  '--enable-dht=false',
  '--enable-dht6=false',
  '--bt-enable-lpd=false',
  '--enable-peer-exchange=false',
  '--disable-ipv6=true',
  `--listen-port=${BT_PORT}`,
  // Seed until stopped: the leechers serve each other until the last is done.
  '--seed-ratio=0.0',
  '--file-allocation=none',
  '--summary-interval=0',
  '--show-console-readout=false',
  '--console-log-level=warn',
]

/** Until the tracker counts the seeder as complete (its scrape), asked from host 0. */
async function untilSeeding(ctx: SystemContext, infoHash: string): Promise<void> {
  const hash = infoHash.replace(/../g, '%$&')
  const url = `http://${ctx.source.ip}:${TRACKER_PORT}/scrape?info_hash=${hash}`
  for (let tries = 0; tries < 300; tries++) {
    try {
      const [cmd, ...args] = inNamespace(ctx.source, ['curl', '--silent', '--max-time', '2', url])
      if (/completei[1-9]/.test(execFileSync(cmd!, args, { encoding: 'latin1' }))) return
    } catch {}
    await sleep(100)
  }
  throw new Error('the aria2 seeder did not show up as complete on the tracker within 30 s')
}

/** Date.now() of each completion marker, once every leecher has one or has exited without it (or at the deadline). */
async function untilCompleted(markers: string[], leechers: Launched[], deadline: number): Promise<(number | undefined)[]> {
  const doneAt: (number | undefined)[] = markers.map(() => undefined)
  const exited = leechers.map(() => false)
  leechers.forEach((l, i) => void l.exited.then(() => (exited[i] = true)))
  for (;;) {
    await Promise.all(
      markers.map(async (m, i) => {
        if (doneAt[i] !== undefined) return
        const text = await readFile(m, 'utf8').catch(() => '')
        if (/^\d{19}\s*$/.test(text)) doneAt[i] = Number(BigInt(text.trim()) / 1_000_000n)
      }),
    )
    if (doneAt.every((at, i) => at !== undefined || exited[i]) || Date.now() > deadline) return doneAt
    await sleep(50)
  }
}
