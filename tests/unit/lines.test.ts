import { describe, expect, it } from 'vitest'
import { readLines } from '../../core/protocol/lines.ts'

describe('readLines', () => {
  const chunks = async function* (...parts: string[]) {
    for (const p of parts) yield new TextEncoder().encode(p)
  }
  it('splits lines across chunks, skips blank ones, keeps a last line without newline', async () => {
    const out: string[] = []
    for await (const line of readLines(chunks('{"a":', '1}\n\n{"b"', ':2}\n{"c":3}'), 100)) out.push(line)
    expect(out).toEqual(['{"a":1}', '{"b":2}', '{"c":3}'])
  })
  it('refuses a line longer than the bound instead of buffering it', async () => {
    const read = async () => {
      for await (const _ of readLines(chunks('x'.repeat(60), 'y'.repeat(60)), 100)) {
      }
    }
    await expect(read()).rejects.toThrow('longer than 100')
  })
})
