import type { DragonflyPlugin, SourceAdapter } from '../core/contract/plugin.ts'
import { assert, type Check, runChecks, sameBytes, slotOf } from './checks.ts'

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
    [
      'GET: 200, content-length, the exact bytes',
      async () => {
        const r = await source.fetch({ url, headers: {} })
        assert(r.status === 200, `status ${r.status}`)
        assert(r.headers.get('content-length') === String(content.byteLength), `content-length ${r.headers.get('content-length')}`)
        assert(sameBytes(await body(r), content), 'body differs')
      },
    ],
    [
      'HEAD: 200 and content-length, no body',
      async () => {
        const r = await source.fetch({ url, headers: {}, method: 'HEAD' })
        assert(r.status === 200, `status ${r.status}`)
        assert(r.headers.get('content-length') === String(content.byteLength), `content-length ${r.headers.get('content-length')}`)
        assert((await body(r)).byteLength === 0, 'HEAD returned a body')
      },
    ],
    [
      'Range: 206, content-range, the exact slice (closed and open ranges)',
      async () => {
        const n = content.byteLength
        for (const [start, end] of [
          [10, 49],
          [n - 20, undefined],
        ] as const) {
          const r = await source.fetch({ url, headers: {}, range: { start, end } })
          assert(r.status === 206, `status ${r.status} for bytes=${start}-${end ?? ''}`)
          const last = end ?? n - 1
          assert(r.headers.get('content-range') === `bytes ${start}-${last}/${n}`, `content-range ${r.headers.get('content-range')}`)
          assert(sameBytes(await body(r), content.subarray(start, last + 1)), `slice ${start}-${last} differs`)
        }
      },
    ],
  ]
  if (options.missingUrl) {
    const missing = options.missingUrl
    checks.push([
      '404 for a missing resource',
      async () => {
        const r = await source.fetch({ url: missing, headers: {} })
        await r.body?.cancel()
        assert(r.status === 404, `status ${r.status}`)
      },
    ])
  }
  return runChecks(`source ${source.protocols.join(',')}`, checks)
}
