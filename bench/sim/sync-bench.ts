/**
 * Cost of one `Swarm.sync` as the sync route runs it (report with a changed
 * bitset decoded from base64, a byte count, a first-copy request; the answer
 * serialized as JSON) in a swarm of N peers each holding a random half of
 * the pieces, for 64, 256 and 1 024 pieces; then the least-squares line
 * `µs = syncUs + syncPieceUs × pieces` (bench/sim/sync-cost.ts).
 *
 *   node --import jiti/register bench/sim/sync-bench.ts [--peers 10000] [--calls 20000]
 */
import { parseArgs } from 'node:util'
import { Bitset } from '../../core/protocol/bitset.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { Swarm } from '../../core/supernode/scheduler/swarm.ts'
import { createRandom } from './scenario.ts'

const { values } = parseArgs({ options: { peers: { type: 'string' }, calls: { type: 'string' } } })
const N = Number(values.peers ?? 10_000)
const calls = Number(values.calls ?? 20_000)

function measure(pieces: number): number {
  const layout = createPieceLayout(pieces * 2 ** 20, 2 ** 20)
  const swarm = new Swarm('bench', layout)
  for (let i = 0; i < pieces; i++) swarm.seedPiece(i, 'sha256:bench')
  const random = createRandom(pieces)
  const haves: Bitset[] = []
  for (let p = 0; p < N; p++) {
    const have = new Bitset(pieces)
    for (let i = 0; i < pieces; i++) if (random() < 0.5) have.set(i)
    haves.push(have)
    swarm.register(`p${p}`, { address: `http://p${p}`, location: `r${p % 2}|z${p % 3}|k${p % 8}`, have: have.toBase64() }, 0)
  }
  let sink = 0
  const started = process.cpuUsage()
  for (let k = 0; k < calls; k++) {
    const p = Math.floor(random() * N)
    const have = haves[p]!
    have.set(Math.floor(random() * pieces))
    const report = { have: Bitset.fromBase64(pieces, have.toBase64()), received: [{ from: 'p0', pieces: 1, bytes: 2 ** 20 }], failed: [], seed: 2, dry: false }
    const answer = swarm.sync(`p${p}`, report, 1 + k)
    const parents = answer.parents.map((q) => ({ id: q.id, address: q.address, location: q.location }))
    sink += JSON.stringify({ parents, digestsFrom: pieces, digests: [], seed: answer.seed, seedSlots: answer.seedSlots }).length
  }
  const used = process.cpuUsage(started)
  if (sink < 0) console.log(sink)
  return (used.user + used.system) / calls
}

const points = [64, 256, 1024].map((pieces) => ({ pieces, us: measure(pieces) }))
for (const { pieces, us } of points) console.log(`${N} peers, ${pieces} pieces: ${us.toFixed(1)} µs CPU per sync`)
const mx = points.reduce((s, p) => s + p.pieces, 0) / points.length
const my = points.reduce((s, p) => s + p.us, 0) / points.length
const slope = points.reduce((s, p) => s + (p.pieces - mx) * (p.us - my), 0) / points.reduce((s, p) => s + (p.pieces - mx) ** 2, 0)
console.log(`fit: syncUs ${(my - slope * mx).toFixed(1)} + syncPieceUs ${slope.toFixed(4)} × pieces`)
