import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { computePieceSize } from '../../core/protocol/piece-layout.ts'
import { routePath, SUPERNODE_ROUTES } from '../../core/protocol/routes.ts'
import { dragonfly, killAll, parseJsonLine, randomFile, sha256File, startDaemon, startSupernode, tempDir } from '../helpers/cli.ts'
import { startOrigin } from '../helpers/origin.ts'

afterAll(() => killAll())

const SIZE = 32 * 1024 * 1024
const DEAD = 'http://127.0.0.1:1'

interface GetJson {
  bytesFromPeers: number
  bytesFromSupernode: number
  bytesFromSource: number
  backToSource: boolean
  supernode: string | null
}

/** Verified pieces recorded in a peer's resume metadata. */
function verifiedPieces(metaDir: string): number {
  const [file] = readdirSync(metaDir)
  const meta = JSON.parse(readFileSync(join(metaDir, file!), 'utf8')) as { have: string }
  return [...Buffer.from(meta.have, 'base64')].reduce((n, byte) => n + byte.toString(2).replaceAll('0', '').length, 0)
}

async function waitFor(check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('supernode trouble, seen from get', () => {
  /** A slow origin, supernodes a and b, and a get through [...first, a, b] that is a third done. */
  async function getWithTwoSupernodes(first: string[] = []) {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const origin = await startOrigin(file, { rate: 16 * 1024 * 1024 })
    const a = await startSupernode(join(dir, 'a'))
    const b = await startSupernode(join(dir, 'b'))
    const list = [...first, a.url, b.url].flatMap((url) => ['--supernode', url])
    const run = dragonfly(['get', origin.url(), '-o', join(dir, 'out'), ...list, '--home', join(dir, 'p'), '--json'])
    await waitFor(() => origin.bytes > SIZE / 3)
    const finished = async (what: string) => {
      const since = performance.now()
      expect(await run.done, run.stderr).toBe(0)
      console.log(`${what}: get finished ${((performance.now() - since) / 1000).toFixed(2)} s after it`)
      expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
      expect(parseJsonLine<GetJson>(run.stdout)).toMatchObject({ supernode: b.url, backToSource: false })
    }
    return { dir, origin, a, b, finished }
  }

  it('fails over to the next --supernode, also when the first dies mid-transfer', async () => {
    const { origin, a, b, finished } = await getWithTwoSupernodes([DEAD])
    try {
      a.run.child.kill('SIGKILL')
      await finished('supernode killed (-9) a third into a 32 MiB download')
    } finally {
      await b.stop()
      await origin.close()
    }
  })

  it('SIGTERM on a supernode: peers are told and move to the next one; the cache state is flushed', async () => {
    const { dir, origin, a, b, finished } = await getWithTwoSupernodes()
    try {
      const stopping = performance.now()
      a.run.child.kill('SIGTERM')
      expect(await a.run.done, a.run.stderr).toBe(0)
      expect(a.run.stdout + a.run.stderr).toMatch(/supernode stopped toldPeers=\d+/)
      console.log(
        `supernode SIGTERM: exited in ${((performance.now() - stopping) / 1000).toFixed(2)} s, ${/toldPeers=(\d+)/.exec(a.run.stdout + a.run.stderr)?.[1]} peers told`,
      )
      await finished('supernode SIGTERM a third into a 32 MiB download')
      // What a had cached is on disk with its piece digests, ready to resume.
      const metaDir = join(dir, 'a', 'cdn', 'meta')
      const meta = JSON.parse(readFileSync(join(metaDir, readdirSync(metaDir)[0]!), 'utf8')) as { digests: string[]; complete: boolean }
      expect(meta.digests.length).toBeGreaterThan(0)
    } finally {
      await b.stop()
      await origin.close()
    }
  })

  it('SIGTERM on a daemon: it leaves its swarms (the supernode stops offering it) and exits cleanly', async () => {
    const dir = await tempDir()
    const origin = await startOrigin(await randomFile(dir, 4 * 1024 * 1024))
    const sn = await startSupernode(join(dir, 'sn'))
    try {
      const daemon = await startDaemon(join(dir, 'd'), sn.url)
      const run = dragonfly(['get', origin.url(), '-o', join(dir, 'out'), '--daemon', daemon.url, '--json'])
      expect(await run.done, run.stderr).toBe(0)
      const { taskId } = parseJsonLine<{ taskId: string }>(run.stdout)
      const peers = async () => ((await (await fetch(`${sn.url}${routePath(SUPERNODE_ROUTES.task, { taskId })}`)).json()) as { peers: unknown[] }).peers.length
      expect(await peers()).toBe(1) // the daemon seeds what it downloaded
      daemon.run.child.kill('SIGTERM')
      expect(await daemon.run.done).toBe(0)
      expect(await peers()).toBe(0)
      expect(existsSync(join(dir, 'd', 'daemon.json'))).toBe(false)
    } finally {
      await sn.stop()
      await origin.close()
    }
  })

  it('goes back to source, with the user headers, when no supernode answers', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, 2 * 1024 * 1024)
    const origin = await startOrigin(file, { auth: 'token t' })
    try {
      const run = dragonfly([
        'get',
        origin.url(),
        '-o',
        join(dir, 'out'),
        '--supernode',
        DEAD,
        '-H',
        'Authorization: token t',
        '--home',
        join(dir, 'p'),
        '--json',
      ])
      expect(await run.done, run.stderr).toBe(0)
      expect(parseJsonLine<GetJson>(run.stdout)).toMatchObject({ backToSource: true, bytesFromSource: 2 * 1024 * 1024, supernode: null })
      expect(parseJsonLine<GetJson & { sourceReason: string }>(run.stdout).sourceReason).toMatch(`no supernode answered (tried ${DEAD}`)
      expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
      // Without --json the user is told in words that the swarm was not used, and why.
      const plain = dragonfly(['get', origin.url(), '-o', join(dir, 'out2'), '--supernode', DEAD, '-H', 'Authorization: token t', '--home', join(dir, 'p')])
      expect(await plain.done, plain.stderr).toBe(0)
      expect(plain.stderr).toContain(`went to the source: no supernode answered (tried ${DEAD}; `)
      expect(plain.stderr).toMatch(/ECONNREFUSED/)
    } finally {
      await origin.close()
    }
  })

  it('a daemon whose supernode is down warns that downloads went to the source, once a minute at most', async () => {
    const dir = await tempDir()
    const a = await randomFile(dir, 256 * 1024, 'a.bin')
    const b = await randomFile(dir, 256 * 1024, 'b.bin')
    const origins = [await startOrigin(a), await startOrigin(b)]
    const daemon = await startDaemon(join(dir, 'd'), DEAD)
    try {
      for (const [i, origin] of origins.entries()) {
        const run = dragonfly(['get', origin.url(), '-o', join(dir, `out${i}`), '--daemon', daemon.url, '--home', join(dir, 'p')])
        expect(await run.done, run.stderr).toBe(0)
      }
      expect(await sha256File(join(dir, 'out1'))).toBe(await sha256File(b))
      const warnings = daemon.run.stderr.split('\n').filter((line) => line.includes('went to the source'))
      expect(warnings, daemon.run.stderr).toHaveLength(1)
      expect(warnings[0]).toContain(`a download went to the source: no supernode answered (tried ${DEAD}; `)
    } finally {
      await daemon.stop()
      for (const origin of origins) await origin.close()
    }
  })

  it('--no-back-source: exits non-zero with a clear message and leaves no file', async () => {
    const dir = await tempDir()
    const run = dragonfly(['get', 'http://127.0.0.1:9/never', '-o', join(dir, 'out'), '--supernode', DEAD, '--no-back-source', '--home', join(dir, 'p')])
    expect(await run.done).toBe(7)
    expect(run.stderr + run.stdout).toMatch(/E_NO_SUPERNODE: no supernode could serve/)
    expect(existsSync(join(dir, 'out'))).toBe(false)
  })
})

describe('resume', () => {
  it('Ctrl-C keeps the verified pieces; the same command again fetches only what is missing', async () => {
    const dir = await tempDir()
    const file = await randomFile(dir, SIZE)
    const origin = await startOrigin(file, { rate: 16 * 1024 * 1024 })
    const sn = await startSupernode(join(dir, 'sn'))
    const args = ['get', origin.url(), '-o', join(dir, 'out'), '--supernode', sn.url, '--home', join(dir, 'p'), '--json']
    try {
      const first = dragonfly(args)
      await waitFor(() => origin.bytes > SIZE / 2)
      first.child.kill('SIGINT')
      expect(await first.done).toBe(130)
      expect(parseJsonLine<{ error: { code: string } }>(first.stdout).error.code).toBe('E_ABORTED')
      expect(existsSync(join(dir, 'out'))).toBe(false)
      const kept = verifiedPieces(join(dir, 'p', 'peer', 'meta'))
      expect(kept).toBeGreaterThan(0)
      const second = dragonfly(args)
      expect(await second.done, second.stderr).toBe(0)
      const result = parseJsonLine<GetJson>(second.stdout)
      expect(await sha256File(join(dir, 'out'))).toBe(await sha256File(file))
      const fetched = result.bytesFromPeers + result.bytesFromSupernode
      // Exactly the missing pieces were fetched.
      expect(fetched).toBe(SIZE - kept * computePieceSize(SIZE))
    } finally {
      await sn.stop()
      await origin.close()
    }
  })
})
