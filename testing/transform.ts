import type { DragonflyPlugin, PieceTransform } from '../core/contract/plugin.ts'
import { assert, type Check, pseudoRandom, runChecks, sameBytes, slotOf, TEXT } from './checks.ts'

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
    [
      'has a stage and a coding token',
      () => {
        assert(['compress', 'custom', 'encrypt'].includes(transform.stage), `stage ${transform.stage}`)
        for (const c of codings) assert(/^[a-z0-9][a-z0-9._-]{0,31}$/.test(c) && c !== 'identity', `bad coding ${JSON.stringify(c)}`)
      },
    ],
  ]
  for (const coding of codings) {
    checks.push([
      `${coding}: decode(encode(x)) === x, input untouched`,
      async () => {
        for (const [i, sample] of samples.entries()) {
          const copy = sample.slice()
          const encoded = await transform.encode(sample, context(i, coding))
          assert(sameBytes(sample, copy), `encode changed its input (sample ${i})`)
          if (encoded === null) continue
          assert(encoded instanceof Uint8Array, `encode returned ${typeof encoded}, not a Uint8Array or null`)
          const decoded = await transform.decode(encoded, { ...context(i, coding), size: sample.byteLength })
          assert(sameBytes(decoded, sample), `round trip differs for sample ${i} (${sample.byteLength} B)`)
        }
      },
    ])
    checks.push([
      `${coding}: decoding garbage throws or yields other bytes, never hangs`,
      async () => {
        const garbage = pseudoRandom(4096, 99)
        const outcome = await Promise.race([
          Promise.resolve(transform.decode(garbage, { ...context(0, coding), size: 4096 })).then(
            () => 'done',
            () => 'threw',
          ),
          new Promise((resolve) => setTimeout(() => resolve('hung'), 5000)),
        ])
        assert(outcome !== 'hung', 'decode did not settle within 5 s')
      },
    ])
    if (transform.stage === 'compress') {
      checks.push([
        `${coding}: compress output is deterministic (servers cache it)`,
        async () => {
          const a = await transform.encode(TEXT, context(0, coding))
          const b = await transform.encode(TEXT, context(0, coding))
          assert((a === null && b === null) || (a && b && sameBytes(a, b)), 'two encodes of the same piece differ')
        },
      ])
    }
    if (transform.stage === 'encrypt') {
      checks.push([
        `${coding}: ciphertext hides the plaintext and a flipped byte is rejected`,
        async () => {
          const sealed = await transform.encode(TEXT, context(0, coding))
          assert(sealed, 'an encrypt transform must not decline')
          assert(!new TextDecoder().decode(sealed).includes('quick brown fox'), 'plaintext visible in the ciphertext')
          const again = await transform.encode(TEXT, context(0, coding))
          assert(again && !sameBytes(sealed, again), 'two encryptions of the same piece are identical (IV reused?)')
          const tampered = sealed.slice()
          tampered[tampered.byteLength >> 1]! ^= 1
          const rejected = await Promise.resolve(transform.decode(tampered, context(0, coding))).then(
            () => false,
            () => true,
          )
          assert(rejected, 'decode accepted a tampered body')
        },
      ])
    }
  }
  return runChecks(`transform ${transform.coding}`, checks)
}
