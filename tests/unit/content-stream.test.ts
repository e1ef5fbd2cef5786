import { describe, expect, it } from 'vitest'
import { openContentStream } from '../../core/daemon/content-stream.ts'
import { createError } from '../../core/errors.ts'
import type { Peer } from '../../core/peer/peer.ts'
import type { LocalTask } from '../../core/peer/peer-tasks.ts'
import { TaskProgress } from '../../core/peer/task-progress.ts'
import { Bitset } from '../../core/protocol/bitset.ts'
import { hashHex } from '../../core/protocol/digest.ts'
import { createPieceLayout, pieceRange } from '../../core/protocol/piece-layout.ts'
import { createSha256 } from '../../runtime/node-hash.ts'
import { settle } from '../helpers/promise-state.ts'

const TASK = 'b'.repeat(64)

/** Just enough of a Peer for a reader: its tasks, their stored bytes and the progress signal. */
function fakePeer(content: Uint8Array, pieceSize: number) {
  const progress = new TaskProgress()
  const layout = createPieceLayout(content.byteLength, pieceSize)
  // The digest each piece was verified against on arrival: the reader checks what it reads back against it.
  const pieceDigests = Array.from({ length: layout.pieceCount }, (_, n) => {
    const r = pieceRange(layout, n)
    return hashHex(createSha256, content.subarray(r.start, r.end))
  })
  const task = { taskId: TASK, layout, have: new Bitset(layout.pieceCount), pieceDigests } as unknown as LocalTask
  const tasks = new Map<string, LocalTask>()
  // Reads into given memory (the lent path) take longer for earlier pieces, so read-ahead finishes out of order.
  const reads = { running: 0, most: 0 }
  const storage = {
    readAt: async (_key: string, at: number, length: number) => content.slice(at, at + length),
    readInto: async (_key: string, at: number, target: Uint8Array) => {
      reads.most = Math.max(reads.most, ++reads.running)
      await new Promise((r) => setTimeout(r, Math.max(1, 20 - at / 50)))
      target.set(content.subarray(at, at + target.byteLength))
      reads.running--
    },
  }
  const peer = { progress, tasks, options: { storage, createHash: createSha256 } } as unknown as Peer
  let settle!: { resolve: () => void; reject: (e: unknown) => void }
  const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }))
  return {
    peer,
    done,
    settle,
    reads,
    adopt: () => (tasks.set(TASK, task), progress.notify(TASK)),
    verify: (n: number) => (task.have.set(n), progress.notify(TASK)),
  }
}

async function readAll(stream: ReadableStream<Uint8Array>, onChunk?: (total: number) => void): Promise<number> {
  const reader = stream.getReader()
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return total
    total += value.byteLength
    onChunk?.(total)
  }
}

describe('reading a download while it runs', () => {
  const content = Uint8Array.from({ length: 1000 }, (_, i) => i % 251)

  it('yields verified pieces in order, holds the last one back until the whole content is verified', async () => {
    const f = fakePeer(content, 250)
    const opening = openContentStream({ peer: f.peer, taskId: TASK, done: f.done })
    f.adopt()
    f.verify(1) // out of order: nothing can be sent yet
    f.verify(0)
    const stream = await opening
    expect(stream.contentLength).toBe(1000)
    const seen: number[] = []
    let reached750!: () => void
    const at750 = new Promise<void>((resolve) => (reached750 = resolve))
    const reading = readAll(stream.body, (n) => {
      seen.push(n)
      if (n === 750) reached750()
    })
    f.verify(3)
    f.verify(2)
    await at750
    // The last piece is verified too, yet it stays back while the whole-content digest is pending.
    await settle()
    expect(seen.at(-1)).toBe(750)
    f.settle.resolve()
    expect(await reading).toBe(1000)
  })

  it('errors instead of completing when the whole-content digest fails', async () => {
    const f = fakePeer(content, 250)
    f.adopt()
    for (let n = 0; n < 4; n++) f.verify(n)
    const stream = await openContentStream({ peer: f.peer, taskId: TASK, done: f.done })
    let got = 0
    let reached750!: () => void
    const at750 = new Promise<void>((resolve) => (reached750 = resolve))
    const reading = readAll(stream.body, (n) => {
      got = n
      if (n === 750) reached750()
    })
    await at750
    f.settle.reject(createError('E_DIGEST_MISMATCH', 'wrong'))
    await expect(reading).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' })
    expect(got).toBe(750)
  })

  it('a one-piece content fails before any byte is sent', async () => {
    const f = fakePeer(content, 1024)
    f.adopt()
    f.verify(0)
    const opening = openContentStream({ peer: f.peer, taskId: TASK, done: f.done })
    f.settle.reject(createError('E_DIGEST_MISMATCH', 'wrong'))
    await expect(opening).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' })
  })

  it('a piece that changed on disk after it was verified is not sent: the stream fails there (E_IO)', async () => {
    const changed = content.slice()
    const f = fakePeer(changed, 250)
    f.adopt()
    for (let n = 0; n < 4; n++) f.verify(n)
    f.settle.resolve()
    changed[600] = changed[600]! ^ 0xff // in piece 2, after its digest was taken
    const stream = await openContentStream({ peer: f.peer, taskId: TASK, done: f.done })
    let got = 0
    await expect(readAll(stream.body, (n) => (got = n))).rejects.toMatchObject({ code: 'E_IO' })
    expect(got).toBe(500)
  })

  it('serves a range', async () => {
    const f = fakePeer(content, 250)
    f.adopt()
    for (let n = 0; n < 4; n++) f.verify(n)
    f.settle.resolve()
    const stream = await openContentStream({ peer: f.peer, taskId: TASK, done: f.done, range: 'bytes=100-599' })
    expect([stream.start, stream.end, stream.partial]).toEqual([100, 600, true])
    expect(await readAll(stream.body)).toBe(500)
  })

  // A daemon serves a finished task from its cache all day: no reader may leave a wake-up behind on it.
  it('leaves no wake-up registered once a reader of a finished download is done, cancelled or refused', async () => {
    const f = fakePeer(content, 250)
    f.adopt()
    for (let n = 0; n < 4; n++) f.verify(n)
    f.settle.resolve()
    for (let i = 0; i < 3; i++) {
      const whole = await openContentStream({ peer: f.peer, taskId: TASK, done: f.done, chunkSize: 100 })
      expect(await readAll(whole.body)).toBe(1000)
    }
    const cancelled = await openContentStream({ peer: f.peer, taskId: TASK, done: f.done, chunkSize: 100 })
    const reader = cancelled.body.getReader()
    await reader.read()
    await reader.cancel()
    await expect(openContentStream({ peer: f.peer, taskId: TASK, done: f.done, range: 'bytes=5000-' })).rejects.toMatchObject({ code: 'E_BAD_REQUEST' })
    expect(f.peer.progress.waiting(TASK)).toBe(0)
  })

  it('a reader waiting on a running download is registered once, and not after it read the end', async () => {
    const f = fakePeer(content, 250)
    const opening = openContentStream({ peer: f.peer, taskId: TASK, done: f.done })
    await expect.poll(() => f.peer.progress.waiting(TASK)).toBe(1)
    f.adopt()
    for (let n = 0; n < 4; n++) f.verify(n)
    const reading = readAll((await opening).body)
    f.settle.resolve()
    expect(await reading).toBe(1000)
    expect(f.peer.progress.waiting(TASK)).toBe(0)
  })

  // The lent body (what a daemon sends): pieces are read back and checked READ_AHEAD at a time while the last
  // one is sent, and still go out whole and in order; a changed piece still stops it there.
  it('lends pieces read ahead, side by side, in order; a piece changed on disk ends it (E_IO)', async () => {
    const collect = async (lent: NonNullable<Awaited<ReturnType<typeof openContentStream>>['lent']>): Promise<Uint8Array[]> => {
      const got: Uint8Array[] = []
      for await (const chunk of lent.chunks) {
        got.push(chunk.slice())
        lent.release(chunk)
      }
      return got
    }
    const f = fakePeer(content, 250)
    f.adopt()
    for (let n = 0; n < 4; n++) f.verify(n)
    f.settle.resolve()
    const stream = await openContentStream({ peer: f.peer, taskId: TASK, done: f.done })
    const got = await collect(stream.lent!)
    expect(got.map((c) => c.byteLength)).toEqual([250, 250, 250, 250])
    expect(Buffer.compare(Buffer.concat(got), content)).toBe(0)
    expect(f.reads.most).toBe(2)

    const changed = content.slice()
    const g = fakePeer(changed, 250)
    g.adopt()
    for (let n = 0; n < 4; n++) g.verify(n)
    g.settle.resolve()
    changed[600] = changed[600]! ^ 0xff
    const sent: Uint8Array[] = []
    const broken = await openContentStream({ peer: g.peer, taskId: TASK, done: g.done })
    await expect(
      (async () => {
        for await (const chunk of broken.lent!.chunks) sent.push(chunk.slice())
      })(),
    ).rejects.toMatchObject({ code: 'E_IO' })
    expect(sent.map((c) => c.byteLength)).toEqual([250, 250])
    expect(g.peer.progress.waiting(TASK)).toBe(0)
  })
})
