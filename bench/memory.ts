/**
 * Peak memory of one peer downloading a large file (issue: a 2 GiB download
 * must keep the peer's RSS bounded). The supernode fetches it from a local
 * origin while the peer gets it from the supernode.
 * Prints the peak RSS (VmHWM) of the peer and of the supernode against the
 * 150 MiB target, and the ratio of file size to peer RSS.
 *
 *   npm run bench:memory                 # 512 MiB
 *   npm run bench:memory -- --size 2048  # the 2 GiB case
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startBenchOrigin, writeBenchFile } from './lib/origin.ts'
import { BIN, flag, peakRssOf, run, startSupernode } from './lib/processes.ts'

const MiB = 1024 * 1024
const size = flag('size', 512) * MiB
const TARGET = 150 * MiB

const dir = await mkdtemp(join(tmpdir(), 'df-bench-memory-'))
const file = join(dir, 'file.bin')
await writeBenchFile(file, size)
const origin = await startBenchOrigin(file)
const { url } = origin
const sn = await startSupernode(join(dir, 'sn'))
const snPeak = peakRssOf(sn.child.pid!)
let failed = false
try {
  const get = await run(process.execPath, [
    BIN,
    'get',
    url,
    '-o',
    join(dir, 'out'),
    '--supernode',
    sn.url,
    '--home',
    join(dir, 'peer'),
    '--daemon',
    'off',
    '--json',
  ])
  if (get.code !== 0) throw new Error(`get failed: ${get.stderr}`)
  const result = JSON.parse(get.stdout.trim().split('\n').pop()!) as { bytes: number; pieces: number }
  if (result.bytes !== size) throw new Error(`get delivered ${result.bytes} of ${size} bytes`)
  const mib = (n: number): string => `${(n / MiB).toFixed(0)} MiB`
  console.log(`file ${mib(size)} in ${result.pieces} pieces, fetched by the supernode while the peer downloads; ${(get.ms / 1000).toFixed(1)} s`)
  console.log(
    `peer peak RSS       ${mib(get.peakRss)}  (${(get.peakRss / TARGET).toFixed(2)}x the 150 MiB target; file / RSS = ${(size / get.peakRss).toFixed(1)})`,
  )
  console.log(`supernode peak RSS  ${mib(snPeak())}`)
} catch (error) {
  console.error(String(error))
  failed = true
} finally {
  sn.child.kill('SIGTERM')
  await origin.close()
  await rm(dir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
