import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { computePieceSize } from '../../core/protocol/piece-layout.ts'
import { DAEMON_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

/** A file of 128 pieces of 128 KiB (the layout this size gets). */
const SIZE = 16 * 1024 * 1024
const PIECE = computePieceSize(SIZE)

afterAll(() => killAll())

/** The one task a store holds: its id and the pieces its meta says are held. */
function storedTask(namespaceDir: string): { taskId: string; held: number[] } {
  const [file] = readdirSync(join(namespaceDir, 'meta')).filter((f) => f.endsWith('.json'))
  const meta = JSON.parse(readFileSync(join(namespaceDir, 'meta', file!), 'utf8')) as { have?: string; digests: (string | null)[] }
  const bits = meta.have ? [...Buffer.from(meta.have, 'base64')] : undefined
  const held = meta.digests.flatMap((d, n) => ((bits ? ((bits[n >> 3] ?? 0) >> (n & 7)) & 1 : d) ? [n] : []))
  return { taskId: file!.replace(/\.json$/, ''), held }
}

/** Flips bytes in the middle of a stored piece, as bit rot or a torn write would. */
async function corruptPiece(namespaceDir: string, taskId: string, piece: number): Promise<void> {
  const handle = await open(join(namespaceDir, 'data', taskId), 'r+')
  try {
    const at = piece * PIECE + 1000
    const { buffer } = await handle.read(Buffer.alloc(16), 0, 16, at)
    await handle.write(
      buffer.map((b) => b ^ 0xff),
      0,
      16,
      at,
    )
  } finally {
    await handle.close()
  }
}

interface GetJson {
  digest: string
  bytesFromPeers: number
  bytesFromSupernode: number
}

async function waitFor(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('no wrong byte exits 0: pieces read back from disk are checked before use', () => {
  it('a piece corrupted between an interrupted get and its rerun is fetched again; the output is right and its digest is reported', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const origin = await startOrigin(file, { rate: 8 * 1024 * 1024 })
    const sn = await startSupernode(join(dir, 'sn'))
    const home = join(dir, 'p')
    const args = ['get', origin.url(), '-o', join(dir, 'out'), '--supernode', sn.url, '--home', home, '--daemon', 'off', '--json']
    try {
      const first = dragonfly(args)
      await waitFor(() => origin.bytes > SIZE / 2)
      first.child.kill('SIGINT')
      expect(await first.done).toBe(130)
      const { taskId, held } = storedTask(join(home, 'peer'))
      expect(held.length).toBeGreaterThan(1)
      await corruptPiece(join(home, 'peer'), taskId, held[0]!)
      const second = dragonfly(args)
      expect(await second.done, second.stderr).toBe(0)
      const want = await sha256File(file)
      expect(await sha256File(join(dir, 'out'))).toBe(want)
      const result = parseJsonLine<GetJson>(second.stdout)
      expect(result.digest).toBe(`sha256:${want}`)
      // The bad piece came again, the good ones did not.
      expect(result.bytesFromPeers + result.bytesFromSupernode).toBe(SIZE - (held.length - 1) * PIECE)
    } finally {
      await sn.stop()
      await origin.close()
    }
  }, 90_000)

  it("the daemon's cache corrupted between restarts is dropped and fetched again", async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const want = await sha256File(file)
    const origin = await startOrigin(file)
    const sn = await startSupernode(join(dir, 'sn'))
    const home = join(dir, 'daemon')
    try {
      let daemon = await startDaemon(home, sn.url)
      const get = async (name: string) => {
        const run = dragonfly(['get', origin.url(), '-o', join(dir, name), '--daemon', daemon.url, '--json'])
        expect(await run.done, run.stderr + run.stdout).toBe(0)
        return sha256File(join(dir, name))
      }
      expect(await get('a')).toBe(want)
      await daemon.stop()
      const { taskId, held } = storedTask(join(home, 'peer'))
      expect(held).toHaveLength(SIZE / PIECE)
      await corruptPiece(join(home, 'peer'), taskId, 5)
      daemon = await startDaemon(home, sn.url)
      expect(await get('b')).toBe(want)
      await daemon.stop()
      // The daemon's store holds the right bytes again, piece 5 included.
      expect(await sha256File(join(home, 'peer', 'data', taskId))).toBe(want)
    } finally {
      await sn.stop()
      await origin.close()
    }
  }, 90_000)

  it("the daemon's cache corrupted while it runs: the next client's stream stops before the changed piece", async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const origin = await startOrigin(file)
    const sn = await startSupernode(join(dir, 'sn'))
    const home = join(dir, 'daemon')
    const daemon = await startDaemon(home, sn.url)
    try {
      const download = () =>
        fetch(`${daemon.url}${DAEMON_ROUTES.download}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url: origin.url(), headers: {} }),
        })
      const first = await download()
      expect(first.status).toBe(200)
      expect(Buffer.from(await first.arrayBuffer()).equals(readFileSync(file))).toBe(true)
      const { taskId } = storedTask(join(home, 'peer'))
      await corruptPiece(join(home, 'peer'), taskId, 5)
      // Served from the cache now: every piece is read back and hashed before a byte of it goes out.
      const second = await download()
      expect(second.status).toBe(200)
      const got: Buffer[] = []
      const reader = second.body!.getReader()
      const failed = await (async () => {
        for (;;) {
          const { done, value } = await reader.read()
          if (done) return false
          got.push(Buffer.from(value))
        }
      })().catch(() => true)
      expect(failed).toBe(true)
      const received = Buffer.concat(got)
      expect(received.byteLength).toBe(5 * PIECE)
      expect(received.equals(readFileSync(file).subarray(0, 5 * PIECE))).toBe(true)
    } finally {
      await daemon.stop()
      await sn.stop()
      await origin.close()
    }
  }, 90_000)

  it("the supernode's cache corrupted between restarts is fetched again from the source; a clean one is not", async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const want = await sha256File(file)
    const origin = await startOrigin(file)
    const home = join(dir, 'sn')
    const get = async (url: string, name: string) => {
      const run = dragonfly(['get', origin.url(), '-o', join(dir, name), '--supernode', url, '--no-back-source', '--home', join(dir, `p-${name}`), '--json'])
      expect(await run.done, run.stderr + run.stdout).toBe(0)
      expect(existsSync(join(dir, name))).toBe(true)
      return sha256File(join(dir, name))
    }
    try {
      let sn = await startSupernode(home)
      expect(await get(sn.url, 'a')).toBe(want)
      await sn.stop()
      // Control: a clean cache survives a restart without source bytes.
      const afterFirst = origin.bytes
      sn = await startSupernode(home)
      expect(await get(sn.url, 'b')).toBe(want)
      await sn.stop()
      expect(origin.bytes).toBe(afterFirst)
      const { taskId } = storedTask(join(home, 'cdn'))
      await corruptPiece(join(home, 'cdn'), taskId, 40)
      sn = await startSupernode(home)
      expect(await get(sn.url, 'c')).toBe(want)
      await sn.stop()
      // From the damaged piece on, the source was read again (If-Range resume), not the whole file.
      expect(origin.bytes - afterFirst).toBe(SIZE - 40 * PIECE)
      expect(await sha256File(join(home, 'cdn', 'data', taskId))).toBe(want)
    } finally {
      await origin.close()
    }
  }, 90_000)
})
