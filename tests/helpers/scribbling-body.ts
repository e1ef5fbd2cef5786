import type { LentBody } from '../../core/contract/serve.ts'

// A body of lent chunks (ServeBindings.sendLent) that reads every chunk into one of two buffers and scribbles
// over a buffer the moment it is given back: a chunk released before the kernel had it reaches the client
// scribbled. Used by the Node test (tests/unit/lent-body.test.ts) and the Deno server's fixture.

export const CHUNK = 256 * 1024
export const CHUNKS = 48

export const pattern = (i: number): number => (i * 7 + 1) & 0xff

export function scribblingBody(): LentBody & { released: number; handedOut: number; cancelled: boolean } {
  const free: Uint8Array[] = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)]
  const waiting: (() => void)[] = []
  const state = { released: 0, handedOut: 0, cancelled: false }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < CHUNKS && !state.cancelled; i++) {
      while (free.length === 0) await new Promise<void>((resolve) => waiting.push(resolve))
      const buffer = free.pop()!
      buffer.fill(pattern(i))
      state.handedOut++
      yield buffer
    }
  }
  return Object.assign(state, {
    chunks: chunks(),
    release(chunk: Uint8Array) {
      state.released++
      chunk.fill(0xee)
      free.push(chunk)
      waiting.shift()?.()
    },
    cancel() {
      state.cancelled = true
    },
  })
}
