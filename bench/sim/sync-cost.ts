/**
 * CPU of one `Swarm.sync` plus its answer's assembly, beyond the HTTP
 * request (`requestUs`, fitted by `bench:supernode --fit` on pulls): a
 * micro-benchmark estimate, not a measurement over the HTTP path.
 * `node --import jiti/register bench/sim/sync-bench.ts` prints it for 64,
 * 256 and 1 024 pieces in a 10 000-peer swarm and the line fitted through
 * them; the figures and the run are in bench/README.md. Checked over the
 * whole HTTP path since (`npm run bench:supernode -- --protocol-cost --peers
 * 10000`: 255-259 µs per sync reporting a changed map, 256 pieces, in a swarm
 * of 12,000): the model's 159 + 144 + 18 = 321 µs charges more than that.
 */
export const SYNC_COST = { syncUs: 144, syncPieceUs: 0.07 }
