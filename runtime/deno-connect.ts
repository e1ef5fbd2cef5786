import { lookup } from 'node:dns/promises'
import type { TunnelGuard } from '../core/contract/serve.ts'

/**
 * CONNECT on the Deno adapter's server (the daemon's forward proxy, as
 * `node-connect.ts` does on Node and Bun): the target is checked as written,
 * resolved here, each address it resolves to checked, and the tunnel opened to
 * the first address itself, so a name cannot resolve elsewhere in between.
 * The bytes are passed on as they are (usually TLS), each direction half-closed
 * when its sender ends.
 */

interface TunnelConn {
  read(p: Uint8Array): Promise<number | null>
  write(p: Uint8Array): Promise<number>
  closeWrite?(): Promise<void>
  close(): void
}
declare const Deno: { connect(options: { hostname: string; port: number }): Promise<TunnelConn> }

const TARGET = /^\[?([^\]\s/]+?)\]?:(\d{1,5})$/
const encoder = new TextEncoder()

/** Answers the CONNECT of `target` on `client` and passes bytes until both sides end; `early` are bytes the client sent after its head. */
export async function denoTunnel(client: TunnelConn, target: string, early: Uint8Array, guard: TunnelGuard | undefined): Promise<void> {
  const m = TARGET.exec(target)
  if (!m || Number(m[2]) > 65535) return refuse(client, '400 Bad Request')
  const host = m[1]!
  const port = Number(m[2])
  try {
    guard?.(`http://${host.includes(':') ? `[${host}]` : host}:${port}/`)
  } catch {
    return refuse(client, '403 Forbidden')
  }
  let address = host
  try {
    const resolved = await lookup(host, { all: true })
    for (const a of resolved) guard?.address(a.address, host)
    address = resolved[0]?.address ?? host
  } catch (error) {
    return refuse(client, (error as { code?: string }).code === 'E_FORBIDDEN' ? '403 Forbidden' : '502 Bad Gateway')
  }
  let upstream: TunnelConn
  try {
    upstream = await Deno.connect({ hostname: address, port })
  } catch {
    return refuse(client, '502 Bad Gateway')
  }
  try {
    await writeAll(client, encoder.encode('HTTP/1.1 200 Connection Established\r\n\r\n'))
    if (early.byteLength > 0) await writeAll(upstream, early)
    await Promise.all([pass(client, upstream), pass(upstream, client)])
  } catch {
    // Either side reset: the other is closed below.
  } finally {
    upstream.close()
  }
}

/** Copies `from` to `to` until `from` ends, then half-closes `to`; a failure closes both. */
async function pass(from: TunnelConn, to: TunnelConn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024)
  try {
    for (;;) {
      const n = await from.read(buffer)
      if (n === null) break
      await writeAll(to, buffer.subarray(0, n))
    }
    await to.closeWrite?.()
  } catch (error) {
    from.close()
    to.close()
    throw error
  }
}

async function writeAll(to: TunnelConn, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) done += await to.write(bytes.subarray(done))
}

async function refuse(client: TunnelConn, status: string): Promise<void> {
  await writeAll(client, encoder.encode(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)).catch(() => {})
}
