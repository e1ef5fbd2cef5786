import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BIN, dragonfly, killAll, parseJsonLine, randomFile, sha256File, tempDir } from '../helpers/cli.ts'
import { type Origin, startOrigin } from '../helpers/origin.ts'

let root: string
let origin: Origin
let digest: string
beforeAll(async () => {
  root = await tempDir()
  const file = await randomFile(root, 700 * 1024)
  digest = await sha256File(file)
  origin = await startOrigin(file)
})
afterAll(async () => {
  killAll()
  await origin.close()
})

const get = (dir: string, ...args: string[]) => dragonfly(['get', ...args, '--home', join(dir, 'home'), '--daemon', 'off'], { cwd: dir })

describe('get: where the file goes', () => {
  it('-O is -o, and without either the name is the URL file name; an existing one is kept (name.1)', async () => {
    const dir = await tempDir()
    const upper = get(dir, origin.url('/file/layer.tar.gz'), '-O', join(dir, 'upper.bin'))
    expect(await upper.done).toBe(0)
    expect(await sha256File(join(dir, 'upper.bin'))).toBe(digest)
    for (const _ of [1, 2]) expect(await get(dir, origin.url('/file/layer.tar.gz?x=1'), '-q').done).toBe(0)
    expect((await readdir(dir)).filter((n) => n.startsWith('layer')).sort()).toEqual(['layer.tar.gz', 'layer.tar.gz.1'])
    expect(await sha256File(join(dir, 'layer.tar.gz.1'))).toBe(digest)
  })

  it('-o - writes the file to stdout and everything else to stderr, --json too', async () => {
    const dir = await tempDir()
    const child = spawn(process.execPath, [BIN, 'get', origin.url(), '-o', '-', '--json', '--home', join(dir, 'home'), '--daemon', 'off'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const hash = createHash('sha256')
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => hash.update(d))
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const code = await new Promise<number | null>((done) => child.on('close', done))
    expect(code).toBe(0)
    expect(hash.digest('hex')).toBe(digest)
    expect(parseJsonLine<{ output: string; digest: string }>(stderr)).toMatchObject({ output: 'stdout', digest: `sha256:${digest}` })
    expect(await readdir(dir)).toEqual(['home'])
  })

  it('a reader that closes stdout early is no crash: the --json line is dropped, the file is written, exit 0', async () => {
    const dir = await tempDir()
    const child = spawn(process.execPath, [BIN, 'get', origin.url(), '-o', join(dir, 'out.bin'), '--json', '--home', join(dir, 'home'), '--daemon', 'off'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d))
    const code = await new Promise<number | null>((done) => child.on('close', done))
    expect(stderr).not.toMatch(/EPIPE|Unhandled|at /)
    expect(code).toBe(0)
    expect(await sha256File(join(dir, 'out.bin'))).toBe(digest)
  })

  it('a FIFO is written into and stays a FIFO', async () => {
    const dir = await tempDir()
    const fifo = join(dir, 'pipe')
    execFileSync('mkfifo', [fifo])
    const reader = new Promise<string>((done, fail) => {
      const hash = createHash('sha256')
      createReadStream(fifo)
        .on('data', (d) => hash.update(d))
        .on('end', () => done(hash.digest('hex')))
        .on('error', fail)
    })
    expect(await get(dir, origin.url(), '-o', fifo, '-q').done).toBe(0)
    expect(await reader).toBe(digest)
    expect((await lstat(fifo)).isFIFO()).toBe(true)
  })

  it('a character device is written into and stays one; a block device is refused; a regular file is replaced (control)', async () => {
    const dir = await tempDir()
    const nullDevice = join(dir, 'null')
    execFileSync('mknod', [nullDevice, 'c', '1', '3'])
    expect(await get(dir, origin.url(), '-o', nullDevice, '-q').done).toBe(0)
    expect((await lstat(nullDevice)).isCharacterDevice()).toBe(true)

    const block = join(dir, 'block')
    execFileSync('mknod', [block, 'b', '7', '200'])
    const refused = get(dir, origin.url(), '-o', block, '--json')
    expect(await refused.done).toBe(2)
    expect(parseJsonLine<{ error: { code: string; message: string } }>(refused.stdout).error).toMatchObject({ code: 'E_BAD_ARGUMENT' })
    expect((await lstat(block)).isBlockDevice()).toBe(true)

    const regular = await randomFile(dir, 10, 'regular.bin')
    expect(await get(dir, origin.url(), '-o', regular, '-q').done).toBe(0)
    expect(await sha256File(regular)).toBe(digest)
  })
})
