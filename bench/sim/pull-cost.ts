/**
 * Cost of one `Swarm.pull` in a big, half-complete swarm, without the
 * simulator around it: N peers each holding a random half of 256 pieces,
 * then random peers ask for 8 pieces and report them delivered at once (so
 * upload slots stay free). Prints CPU time per ask + report pair.
 *
 *   node --import jiti/register bench/sim/pull-cost.ts [--peers 10000] [--calls 20000]
 */
import { parseArgs } from 'node:util'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { Swarm } from '../../core/supernode/scheduler/swarm.ts'
import { createRandom } from './scenario.ts'

const { values } = parseArgs({ options: { peers: { type: 'string' }, calls: { type: 'string' } } })
const N = Number(values.peers ?? 10_000)
const calls = Number(values.calls ?? 20_000)
const layout = createPieceLayout(256 * 2 ** 20)
const swarm = new Swarm('bench', layout)
for (let i = 0; i < layout.pieceCount; i++) swarm.seedPiece(i, 'sha256:bench')
const random = createRandom(1)
for (let p = 0; p < N; p++) {
  const have = new Bitset(layout.pieceCount)
  for (let i = 0; i < layout.pieceCount; i++) if (random() < 0.5) have.set(i)
  swarm.register(`p${p}`, { address: `http://p${p}`, location: `r${p % 2}|z${p % 3}|k${p % 8}`, have: have.toBase64() }, 0)
}
let assigned = 0
const started = process.cpuUsage()
for (let k = 0; k < calls; k++) {
  const id = `p${Math.floor(random() * N)}`
  const batch = swarm.pull(id, [], 8, 1)
  assigned += batch.length
  swarm.pull(
    id,
    batch.map((a) => ({ piece: a.piece, from: a.from, ok: true, bytes: 0 })),
    0,
    2,
  )
}
const used = process.cpuUsage(started)
const us = (used.user + used.system) / calls
console.log(
  `${N} peers, ${layout.pieceCount} pieces: ${us.toFixed(1)} µs CPU per pull(want 8) + the pull reporting its ${(assigned / calls).toFixed(1)} pieces = ${Math.round((assigned / calls / us) * 1e6).toLocaleString('en-US')} pieces per CPU-s`,
)
