import type { DragonflyPlugin, PieceTransform, SourceAdapter } from '../core/contract/plugin.ts'
import { checkPlugin } from '../core/contract/plugin.ts'
import type { StorageContext, StorageDriver, StorageFactory } from '../core/contract/storage.ts'

/**
 * Conformance checks for plugin authors, the ones the built-ins pass. Each
 * runs on its own and throws a `PluginConformanceError` listing every
 * failed check, so it works under any test runner:
 * `it('passes', () => testTransform(myPlugin()))`.
 */
export class PluginConformanceError extends Error {
  readonly failures: string[]
  constructor(subject: string, failures: string[]) {
    super(`${subject} fails ${failures.length} check(s):\n - ${failures.join('\n - ')}`)
    this.name = 'PluginConformanceError'
    this.failures = failures
  }
}

type Check = [name: string, run: () => Promise<void> | void]

async function runChecks(subject: string, checks: Check[]): Promise<string[]> {
  const failures: string[] = []
  for (const [name, run] of checks) {
    try {
      await run()
    } catch (error) {
      failures.push(`${name}: ${(error as Error)?.message ?? error}`)
    }
  }
  if (failures.length) throw new PluginConformanceError(subject, failures)
  return checks.map(([name]) => name)
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

function pseudoRandom(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const TEXT = new TextEncoder().encode('the quick brown fox jumps over the lazy dragonfly\n'.repeat(6000))

function slotOf<T>(input: DragonflyPlugin | T, slot: 'transform' | 'source' | 'storage'): T {
  if (input && typeof input === 'object' && 'name' in input && slot in (input as object)) {
    checkPlugin(input as DragonflyPlugin)
    return (input as unknown as Record<string, T>)[slot]!
  }
  return input as T
}

export interface TestTransformOptions {
  /** Extra piece bodies to round-trip. */
  samples?: Uint8Array[]
}

/**
 * A transform must round-trip every piece, for every coding it offers, leave
 * its input untouched, and (compress stage) be deterministic, since piece
 * servers cache compress output. `encode` may return null to decline.
 */
export function testTransform(input: DragonflyPlugin | PieceTransform, options: TestTransformOptions = {}): Promise<string[]> {
  const transform = slotOf<PieceTransform>(input, 'transform')
  const samples = [new Uint8Array([7]), pseudoRandom(1000, 1), pseudoRandom(256 * 1024, 2), TEXT, ...(options.samples ?? [])]
  const codings = [transform.coding, ...(transform.codings ?? [])]
  const context = (piece: number, coding: string) => ({ taskId: 'ab'.repeat(32), piece, coding })
  const checks: Check[] = [
    ['has a stage and a coding token', () => {
      assert(['compress', 'custom', 'encrypt'].includes(transform.stage), `stage ${transform.stage}`)
      for (const c of codings) assert(/^[a-z0-9][a-z0-9._-]{0,31}$/.test(c) && c !== 'identity', `bad coding ${JSON.stringify(c)}`)
    }],
  ]
  for (const coding of codings) {
    checks.push([`${coding}: decode(encode(x)) === x, input untouched`, async () => {
      for (const [i, sample] of samples.entries()) {
        const copy = sample.slice()
        const encoded = await transform.encode(sample, context(i, coding))
        assert(sameBytes(sample, copy), `encode changed its input (sample ${i})`)
        if (encoded === null) continue
        assert(encoded instanceof Uint8Array, `encode returned ${typeof encoded}, not a Uint8Array or null`)
        const decoded = await transform.decode(encoded, { ...context(i, coding), size: sample.byteLength })
        assert(sameBytes(decoded, sample), `round trip differs for sample ${i} (${sample.byteLength} B)`)
      }
    }])
    checks.push([`${coding}: decoding garbage throws or yields other bytes, never hangs`, async () => {
      const garbage = pseudoRandom(4096, 99)
      const outcome = await Promise.race([
        Promise.resolve(transform.decode(garbage, { ...context(0, coding), size: 4096 })).then(() => 'done', () => 'threw'),
        new Promise((resolve) => setTimeout(() => resolve('hung'), 5000)),
      ])
      assert(outcome !== 'hung', 'decode did not settle within 5 s')
    }])
    if (transform.stage === 'compress') {
      checks.push([`${coding}: compress output is deterministic (servers cache it)`, async () => {
        const a = await transform.encode(TEXT, context(0, coding))
        const b = await transform.encode(TEXT, context(0, coding))
        assert((a === null && b === null) || (a && b && sameBytes(a, b)), 'two encodes of the same piece differ')
      }])
    }
    if (transform.stage === 'encrypt') {
      checks.push([`${coding}: ciphertext hides the plaintext and a flipped byte is rejected`, async () => {
        const sealed = await transform.encode(TEXT, context(0, coding))
        assert(sealed, 'an encrypt transform must not decline')
        assert(!new TextDecoder().decode(sealed).includes('quick brown fox'), 'plaintext visible in the ciphertext')
        const again = await transform.encode(TEXT, context(0, coding))
        assert(again && !sameBytes(sealed, again), 'two encryptions of the same piece are identical (IV reused?)')
        const tampered = sealed.slice()
        tampered[tampered.byteLength >> 1]! ^= 1
        const rejected = await Promise.resolve(transform.decode(tampered, context(0, coding))).then(() => false, () => true)
        assert(rejected, 'decode accepted a tampered body')
      }])
    }
  }
  return runChecks(`transform ${transform.coding}`, checks)
}

export interface TestStorageOptions {
  /** Passed to the factory; use a fresh temporary directory. */
  context: StorageContext
}

/** The StorageDriver contract: offsets, exact reads, metadata, listing, removal, key checks. */
export async function testStorage(input: DragonflyPlugin | StorageFactory, options: TestStorageOptions): Promise<string[]> {
  const driver: StorageDriver = slotOf<StorageFactory>(input, 'storage')(options.context)
  const key = 'aa'.repeat(32)
  const a = pseudoRandom(3000, 3)
  const b = pseudoRandom(1000, 4)
  const checks: Check[] = [
    ['writes at offsets, out of order, and reads them back exactly', async () => {
      await driver.writeAt(key, 3000, b)
      await driver.writeAt(key, 0, a)
      assert(sameBytes(await driver.readAt(key, 0, 3000), a), 'first range differs')
      assert(sameBytes(await driver.readAt(key, 3000, 1000), b), 'second range differs')
      assert(sameBytes(await driver.readAt(key, 2990, 20), new Uint8Array([...a.subarray(2990), ...b.subarray(0, 10)])), 'straddling read differs')
    }],
    ['rejects a read past the end', async () => {
      const failed = await driver.readAt(key, 3500, 1000).then(() => false, () => true)
      assert(failed, 'readAt past the end resolved')
    }],
    ['readInto (when offered) fills the caller\'s memory exactly, and rejects past the end', async () => {
      if (!driver.readInto) return
      const target = new Uint8Array(24).fill(0xee)
      await driver.readInto(key, 2990, target.subarray(2, 22))
      assert(sameBytes(target.subarray(2, 22), new Uint8Array([...a.subarray(2990), ...b.subarray(0, 10)])), 'readInto range differs')
      assert(target[0] === 0xee && target[1] === 0xee && target[22] === 0xee && target[23] === 0xee, 'readInto wrote outside its target')
      assert(await driver.readInto(key, 3500, new Uint8Array(1000)).then(() => false, () => true), 'readInto past the end resolved')
    }],
    ['keeps JSON metadata; null when absent', async () => {
      assert((await driver.getMeta('bb'.repeat(32))) === null, 'getMeta of a missing key is not null')
      await driver.setMeta(key, { have: 'AQ==', n: 2 })
      const meta = await driver.getMeta<{ have: string; n: number }>(key)
      assert(meta?.have === 'AQ==' && meta.n === 2, `metadata read back as ${JSON.stringify(meta)}`)
      assert((await driver.listKeys()).includes(key), 'listKeys misses a key with metadata')
    }],
    ['removes blob and metadata; removing twice is fine', async () => {
      await driver.remove(key)
      await driver.remove(key)
      assert((await driver.getMeta(key)) === null, 'metadata survived remove')
      assert(await driver.readAt(key, 0, 10).then(() => false, () => true), 'content survived remove')
      assert(!(await driver.listKeys()).includes(key), 'listKeys still lists a removed key')
    }],
    ['refuses keys that could escape its namespace', async () => {
      for (const bad of ['../x', 'a/b', '']) {
        assert(await driver.writeAt(bad, 0, b).then(() => false, () => true), `accepted key ${JSON.stringify(bad)}`)
      }
    }],
  ]
  try {
    return await runChecks(`storage ${driver.name}`, checks)
  } finally {
    await driver.close?.()
  }
}

export interface TestSourceOptions {
  /** A URL the source serves, and the exact bytes behind it (at least 100). */
  url: string
  content: Uint8Array
  /** A URL of the same scheme that does not exist. */
  missingUrl?: string
}

/** The SourceAdapter contract: whole GET, HEAD, ranges (206 + content-range), 404 for missing. */
export function testSource(input: DragonflyPlugin | SourceAdapter, options: TestSourceOptions): Promise<string[]> {
  const source = slotOf<SourceAdapter>(input, 'source')
  const { url, content } = options
  const body = async (r: Response) => new Uint8Array(await r.arrayBuffer())
  const checks: Check[] = [
    ['handles the URL protocol', () => assert(source.protocols.includes(new URL(url).protocol), `protocols ${source.protocols} miss ${new URL(url).protocol}`)],
    ['GET: 200, content-length, the exact bytes', async () => {
      const r = await source.fetch({ url, headers: {} })
      assert(r.status === 200, `status ${r.status}`)
      assert(r.headers.get('content-length') === String(content.byteLength), `content-length ${r.headers.get('content-length')}`)
      assert(sameBytes(await body(r), content), 'body differs')
    }],
    ['HEAD: 200 and content-length, no body', async () => {
      const r = await source.fetch({ url, headers: {}, method: 'HEAD' })
      assert(r.status === 200, `status ${r.status}`)
      assert(r.headers.get('content-length') === String(content.byteLength), `content-length ${r.headers.get('content-length')}`)
      assert((await body(r)).byteLength === 0, 'HEAD returned a body')
    }],
    ['Range: 206, content-range, the exact slice (closed and open ranges)', async () => {
      const n = content.byteLength
      for (const [start, end] of [[10, 49], [n - 20, undefined]] as const) {
        const r = await source.fetch({ url, headers: {}, range: { start, end } })
        assert(r.status === 206, `status ${r.status} for bytes=${start}-${end ?? ''}`)
        const last = end ?? n - 1
        assert(r.headers.get('content-range') === `bytes ${start}-${last}/${n}`, `content-range ${r.headers.get('content-range')}`)
        assert(sameBytes(await body(r), content.subarray(start, last + 1)), `slice ${start}-${last} differs`)
      }
    }],
  ]
  if (options.missingUrl) {
    const missing = options.missingUrl
    checks.push(['404 for a missing resource', async () => {
      const r = await source.fetch({ url: missing, headers: {} })
      await r.body?.cancel()
      assert(r.status === 404, `status ${r.status}`)
    }])
  }
  return runChecks(`source ${source.protocols.join(',')}`, checks)
}
