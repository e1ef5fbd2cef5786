import { describe, expect, it } from 'vitest'
import { runSwarmBench } from '../bench/swarm/run.ts'

describe('bench/swarm: rate-limited peers through a supernode vs straight from the source', () => {
  it('every peer and every direct client ends with the verified file; P2P reads the source once, direct N times', async () => {
    const r = await runSwarmBench({ peers: 3, sizeMiB: 4, rate: '50MB' })
    expect(r.p2p.failures).toEqual([])
    expect(r.direct.failures).toEqual([])
    expect(r.p2p.sourceEgress).toBeCloseTo(1, 2)
    expect(r.direct.sourceEgress).toBeCloseTo(3, 2)
    const delivered = r.p2p.bytesFromPeers + r.p2p.bytesFromSupernode + r.p2p.bytesFromSource
    expect(delivered).toBe(3 * r.fileBytes)
    expect(r.direct.bytesFromSource).toBe(3 * r.fileBytes)
    expect(r.bound.seconds).toBeCloseTo(r.fileBytes / (50 * 2 ** 20), 6)
  })
})
