/**
 * How many first copies a peer runs at once from the supernode: what the
 * supernode offers (its uplink split among the peers downloading), but at
 * most half of the peer's fetches while it has parents, so that the other
 * half takes what they hold. Before, two peers were each offered all 8 of
 * their fetches: they swapped nothing until the supernode had sent its last
 * piece, and took 1.62x the bound where BitTorrent took 1.35x
 * (`npm run bench:swarm -- --peers 2 --size 32 --rate 20mbit`).
 * A peer without parents (alone in its task) takes every slot.
 */
export function seedSlotCap(concurrency: number, parents: number): number {
  return parents > 0 ? Math.max(1, Math.ceil(concurrency / 2)) : concurrency
}
