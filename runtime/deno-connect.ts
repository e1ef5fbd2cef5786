import { lookup } from 'node:dns/promises'
import type { TunnelGuard } from '../core/contract/serve.ts'
import { parseConnectTarget, TUNNEL_ANSWER } from './connect-target.ts'
import { type DenoConn, writeAll } from './deno-response-writer.ts'

/**
 * CONNECT on the Deno adapter's server (the daemon's forward proxy, as
 * `node-connect.ts` does on Node and Bun): the target is checked as written,
 * resolved here, each address it resolves to checked, and the tunnel opened to
 * a checked address itself (the first that accepts), so a name cannot resolve
 * elsewhere in between.
 * The bytes are passed on as they are (usually TLS), each direction half-closed
 * when its sender ends.
 */

declare const Deno: { connect(options: { hostname: string; port: number }): Promise<DenoConn> }

const encoder = new TextEncoder()
/** How long one address may take to accept before the next checked one is tried. */
const CONNECT_MS = 10_000

/** Answers the CONNECT of `target` on `client` and passes bytes until both sides end; `early` are bytes the client sent after its head. */
export async function denoTunnel(client: DenoConn, target: string, early: Uint8Array, guard: TunnelGuard | undefined): Promise<void> {
  const parsed = parseConnectTarget(target)
  if (!parsed) return answer(client, TUNNEL_ANSWER.badTarget)
  try {
    guard?.(parsed.url)
  } catch {
    return answer(client, TUNNEL_ANSWER.forbidden)
  }
  let addresses: string[]
  try {
    addresses = (await lookup(parsed.host, { all: true })).map((a) => a.address)
    for (const address of addresses) guard?.address(address, parsed.host)
  } catch (error) {
    return answer(client, (error as { code?: string }).code === 'E_FORBIDDEN' ? TUNNEL_ANSWER.forbidden : TUNNEL_ANSWER.unreachable)
  }
  // Only checked addresses are connected to: an empty answer is not handed to a resolver that would ask again.
  const upstream = await connectFirst(addresses, parsed.port)
  if (!upstream) return answer(client, TUNNEL_ANSWER.unreachable)
  try {
    await writeAll(client, encoder.encode(TUNNEL_ANSWER.established))
    if (early.byteLength > 0) await writeAll(upstream, early)
    await Promise.all([pass(client, upstream), pass(upstream, client)])
  } catch {
    // Either side reset: both are closed (here and by the server).
  } finally {
    closeQuietly(upstream)
  }
}

/** The first of `addresses` (in the resolver's order) that accepts within CONNECT_MS, else undefined. */
async function connectFirst(addresses: string[], port: number): Promise<DenoConn | undefined> {
  for (const hostname of addresses) {
    const attempt = Deno.connect({ hostname, port })
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<undefined>((done) => (timer = setTimeout(done, CONNECT_MS, undefined)))
    const conn = await Promise.race([attempt, late]).catch(() => undefined)
    clearTimeout(timer)
    if (conn) return conn
    // One that connects after its time is closed, not leaked.
    void attempt.then(closeQuietly, () => {})
  }
  return undefined
}

/** Copies `from` to `to` until `from` ends, then half-closes `to`; a failure closes both. */
async function pass(from: DenoConn, to: DenoConn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024)
  try {
    for (;;) {
      const n = await from.read(buffer)
      if (n === null) break
      await writeAll(to, buffer.subarray(0, n))
    }
    await to.closeWrite?.()
  } catch (error) {
    closeQuietly(from)
    closeQuietly(to)
    throw error
  }
}

/** Deno's close throws on a connection already closed. */
function closeQuietly(conn: DenoConn): void {
  try {
    conn.close()
  } catch {}
}

/** A refusal; the server closes the connection after it. */
async function answer(client: DenoConn, refusal: string): Promise<void> {
  await writeAll(client, encoder.encode(refusal)).catch(() => {})
}
