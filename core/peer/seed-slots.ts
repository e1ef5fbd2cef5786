/**
 * How many first copies a peer runs at once from the supernode: what the
 * supernode offers (its uplink split among the peers downloading), but fewer
 * as the peer has more parents, so that the rest of its fetches take what
 * they hold: half of them with one parent, a quarter from three parents on.
 * Before, two peers were each offered all 8 of their fetches: they swapped
 * nothing until the supernode had sent its last piece, and took 1.62x the
 * bound where BitTorrent took 1.35x (`npm run bench:swarm -- --peers 2
 * --size 32 --rate 20mbit`; bench/README.md, "Small swarms").
 * A peer without parents (alone in its task) takes every slot.
 */
export function seedSlotCap(concurrency: number, parents: number): number {
  if (parents <= 0) return concurrency
  return Math.max(Math.ceil(concurrency / 4), Math.ceil(concurrency / 2) - parents + 1)
}
