// Per-piece throughput of the transform plugins: node --import jiti/register bench/transforms.ts [pieceKiB]
import { randomBytes } from 'node:crypto'
import type { PieceTransform } from '../core/contract/plugin.ts'
import compress from '../plugins/compress/index.ts'
import encrypt from '../plugins/encrypt/index.ts'

const pieceSize = Number(process.argv[2] ?? 4096) * 1024
const text = Buffer.alloc(pieceSize)
for (let at = 0, i = 0; at < pieceSize; i++) at += text.write(`${i} GET /v2/library/app/blobs/sha256:${(i * 2654435761).toString(16)} 200 ${i % 977}\n`, at)
const inputs = { text: new Uint8Array(text), random: new Uint8Array(randomBytes(pieceSize)) }

const cases: [string, PieceTransform, string][] = [
  ['compress gzip', compress().transform!, 'gzip'],
  ['compress deflate', compress({ codecs: ['deflate'] }).transform!, 'deflate'],
  ['encrypt aes256gcm', encrypt({ secret: 'bench secret, 16+ chars' }).transform!, 'aes256gcm'],
]

async function measure(run: () => Promise<unknown>): Promise<number> {
  const deadline = performance.now() + 1000
  let n = 0
  while (performance.now() < deadline) {
    await run()
    n++
  }
  return n
}

const rows: Record<string, string | number>[] = []
for (const [name, t, coding] of cases) {
  for (const [kind, data] of Object.entries(inputs)) {
    const ctx = { taskId: 'ab'.repeat(32), piece: 0, coding, size: data.byteLength }
    const encoded = await t.encode(data, ctx)
    const encodes = await measure(() => t.encode(data, ctx))
    const decodes = encoded ? await measure(() => t.decode(encoded, ctx)) : 0
    const mbps = (count: number) => Math.round((count * data.byteLength) / 1e6)
    rows.push({
      transform: name,
      input: kind,
      'encode MB/s': mbps(encodes),
      'decode MB/s': encoded ? mbps(decodes) : '-',
      wire: encoded ? `${(encoded.byteLength / data.byteLength).toFixed(3)}x` : '1.000x (declined)',
    })
  }
}
console.log(`piece ${pieceSize / 1024} KiB, ${globalThis.process?.version ?? ''}`)
console.table(rows)
