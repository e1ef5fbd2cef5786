/**
 * CPU of one `Swarm.sync` plus its answer's assembly, beyond the HTTP
 * request (`requestUs`, fitted by `bench:supernode --fit` on pulls): a
 * micro-benchmark estimate, not a measurement over the HTTP path.
 * `node --import jiti/register bench/sim/sync-bench.ts` prints it for 64,
 * 256 and 1 024 pieces in a 10 000-peer swarm and the line fitted through
 * them; the figures and the run are in bench/README.md.
 */
export const SYNC_COST = { syncUs: 144, syncPieceUs: 0.07 }
