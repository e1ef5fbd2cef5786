import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { PieceHttpGet } from '../../core/contract/piece-get.ts'
import type { DownloadHost } from '../../core/peer/download-host.ts'
import type { LocalTask } from '../../core/peer/peer-tasks.ts'
import { PieceReceiver } from '../../core/peer/piece-receiver.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { CODING_HEADER } from '../../core/protocol/piece-coding.ts'
import { createPieceLayout } from '../../core/protocol/piece-layout.ts'
import { OrderedDigest } from '../../core/transfer/ordered-digest.ts'
import { createMemoryStorage } from '../../plugins/storage-memory/index.ts'
import { createSha256 } from '../../runtime/node-hash.ts'

const SIZE = 256 * 1024
const bytes = new Uint8Array(SIZE).map((_, i) => (i * 7) % 251)
const digest = createHash('sha256').update(bytes).digest('hex')

/** A piece server per address: `fast` answers at once; `slow` sends half the piece, then nothing until aborted. */
const get: PieceHttpGet = async (url, init) => {
  const slow = url.startsWith('http://slow')
  return {
    status: 200,
    header: (name) => (name.toLowerCase() === CODING_HEADER ? 'identity' : null),
    cancel() {},
    chunks: {
      async *[Symbol.asyncIterator]() {
        if (!slow) return yield bytes
        yield bytes.subarray(0, SIZE / 2)
        await new Promise((_, fail) => init.signal.addEventListener('abort', () => fail(init.signal.reason), { once: true }))
      },
    },
  }
}

function setup() {
  const layout = createPieceLayout(SIZE, SIZE)
  const task: LocalTask = {
    taskId: 'a'.repeat(64),
    layout,
    have: new Bitset(layout.pieceCount),
    digest: new OrderedDigest(createSha256, layout.pieceCount, async () => bytes),
    pieceDigests: [],
  }
  const host = {
    options: { plugins: { transforms: [] }, storage: createMemoryStorage(), createHash: createSha256, pieceGet: get, pieceTimeoutMs: 30_000, concurrency: 4 },
    progress: { notify() {} },
    limitsOf: () => ({}),
    outgoingHeaders: () => ({}),
    persist: async () => {},
  } as unknown as DownloadHost
  const stats = { bytesFromPeers: 0, bytesFromSupernode: 0, bytesFromSource: 0, wireBytes: 0, piecesFromPeers: 0, piecesFromSupernode: 0 }
  const receiver = new PieceReceiver({ host, base: 'http://supernode', task, stats, url: 'http://origin/f', pieceSize: SIZE, concurrency: 4, hashWhole: false })
  return { receiver, task }
}

const assignment = (from: string) => ({ piece: 0, digest, size: SIZE, from, address: `http://${from}:1` })

describe('PieceReceiver: two copies of one piece (end game)', () => {
  it('the copy that loses the race is no failure of its source: only the winner brings bytes, nobody is blamed', async () => {
    const { receiver, task } = setup()
    const loser = receiver.receive(assignment('slow'))
    const winner = await receiver.receive(assignment('fast'))
    expect(winner).toMatchObject({ piece: 0, from: 'fast', ok: true, bytes: SIZE })
    // Before the fix the loser answered ok: false (an abort reads as "unreachable"), which the download loop
    // reports to the supernode against an honest parent and drops that parent.
    expect(await loser).toEqual({ piece: 0, from: 'slow', ok: true, bytes: 0 })
    expect(task.have.has(0)).toBe(true)
  })

  it('a source that really fails is still reported (control)', async () => {
    const { receiver } = setup()
    const failing: PieceHttpGet = async () => ({ status: 503, header: () => null, cancel() {}, chunks: { async *[Symbol.asyncIterator]() {} } })
    Object.assign((receiver as unknown as { o: { host: DownloadHost } }).o.host.options, { pieceGet: failing })
    expect(await receiver.receive(assignment('fast'))).toMatchObject({ piece: 0, from: 'fast', ok: false, error: 'http' })
  })
})
