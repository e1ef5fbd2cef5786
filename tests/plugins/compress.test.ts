import { describe, expect, it } from 'vitest'
import compress from '../../plugins/compress/index.ts'
import { testTransform } from '../../testing/index.ts'
import { optionError } from '../helpers/option-error.ts'

const context = { taskId: 'ab'.repeat(32), piece: 0, coding: 'gzip' }

/** `size` bytes of which the last `zeros` are zero and the rest random: the zeros are all gzip can save. */
function partlyCompressible(size: number, zeros: number): Uint8Array {
  const out = new Uint8Array(size)
  crypto.getRandomValues(out.subarray(0, size - zeros))
  return out
}

describe('compress', () => {
  it('passes testTransform with its defaults and with other codecs', async () => {
    await testTransform(compress())
    await testTransform(compress({ codecs: ['deflate-raw'], minSaving: 0 }))
  })

  it('offers gzip then deflate by default, and the codecs given in order', () => {
    expect(compress().transform).toMatchObject({ stage: 'compress', coding: 'gzip', codings: ['deflate'] })
    expect(compress({ codecs: ['deflate-raw', 'gzip'] }).transform).toMatchObject({ coding: 'deflate-raw', codings: ['gzip'] })
  })

  it('sends a piece raw unless it saves minSaving (default 0.1)', async () => {
    const piece = partlyCompressible(20_000, 1_000)
    expect(await compress().transform.encode(piece, context)).toBeNull()
    const packed = await compress({ minSaving: 0.02 }).transform.encode(piece, context)
    expect(packed?.byteLength).toBeLessThan(piece.byteLength * 0.98)
  })

  it('judges a large piece by its first probeBytes (default 16 KiB)', async () => {
    // Random first 16 KiB, zeros after: the default probe sees nothing to gain; a 32 KiB probe covers the whole piece.
    const piece = partlyCompressible(64 * 1024, 48 * 1024)
    expect(await compress().transform.encode(piece, context)).toBeNull()
    expect((await compress({ probeBytes: 32 * 1024 }).transform.encode(piece, context))?.byteLength).toBeLessThan(20 * 1024)
  })

  it('refuses misspelt, unknown and mistyped options, naming the plugin and the option', () => {
    expect(optionError(() => compress({ minSavings: 0.1 } as never))).toMatch(/^compress: unknown option `minSavings` \(did you mean `minSaving`\?\)/)
    expect(optionError(() => compress({ level: 9 } as never))).toBe('compress: unknown option `level`; known: minSaving, codecs, probeBytes')
    expect(optionError(() => compress({ minSaving: '0.1' } as never))).toBe('compress: option `minSaving` must be a number, got a string')
    expect(optionError(() => compress({ minSaving: 1 }))).toBe('compress: option `minSaving` must be in [0, 1), got 1')
    expect(optionError(() => compress({ codecs: ['gzip', 'gzipp'] } as never))).toMatch(/option `codecs\[1\]` must be one of "gzip", .*got "gzipp"/)
    expect(optionError(() => compress({ probeBytes: 0.5 }))).toMatch(/option `probeBytes` must be a whole number of bytes/)
    expect(optionError(() => compress({ codecs: [] }))).toMatch(/none of the codecs \[\] is available/)
  })
})
