import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readFile, rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createError, DragonflyError } from '../core/errors.ts'
import type { DownloadResult } from '../core/peer/download-types.ts'
import type { DaemonDownloadBody } from '../core/protocol/api-schema.ts'
import { errorFromResponse } from '../core/protocol/error-body.ts'
import { DAEMON_ROUTES, routePath, serverUrl } from '../core/protocol/routes.ts'
import { TASK_ID_HEADER } from '../core/protocol/task-id.ts'
import { credentialHeaders } from '../core/source/source-access.ts'
import { type OutputTarget, openSink } from './output-target.ts'

/** Written by `dragonfly daemon` into its home: `{url, pid, upload}`. */
export const DAEMON_FILE = 'daemon.json'
export const DEFAULT_DAEMON = 'http://127.0.0.1:65001'

/**
 * The daemon `get` should hand its download to: `--daemon URL` (must answer),
 * else the one named in `<home>/daemon.json` if its process lives, else one on
 * the default port. Null when there is none (get downloads by itself).
 * `fetcher` is the runtime's API transport when it has one: on Node, global
 * fetch's first call costs a `get` ~10 ms of CPU for a question usually
 * answered by a refused connection.
 */
export async function findDaemon(explicit: string | undefined, home: string, fetcher: typeof fetch = fetch): Promise<string | null> {
  if (explicit) {
    const url = explicit.replace(/\/+$/, '')
    if (!(await isDaemon(fetcher, url, 5_000))) throw createError('E_NO_SUPERNODE', `no dragonfly daemon answers at ${url}`)
    return url
  }
  const file = await readFile(join(home, DAEMON_FILE), 'utf8').then(
    (t) => JSON.parse(t) as { url?: unknown; pid?: unknown },
    () => null,
  )
  if (file && typeof file.url === 'string' && typeof file.pid === 'number' && alive(file.pid) && (await isDaemon(fetcher, file.url, 2_000))) return file.url
  return (await isDaemon(fetcher, DEFAULT_DAEMON, 500)) ? DEFAULT_DAEMON : null
}

async function isDaemon(fetcher: typeof fetch, url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetcher(serverUrl(url, DAEMON_ROUTES.hello), { signal: AbortSignal.timeout(timeoutMs) })
    return res.ok && ((await res.json()) as { dragonfly?: string }).dragonfly === 'daemon'
  } catch {
    return false
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Has the daemon download into its cache (joining a download of the same
 * task already running there) and copies the verified content to `output`.
 * The daemon ends the body only after the whole content matched its digest,
 * so `output` appears (by rename) only then; it is hashed again on the way.
 * A stream target (stdout, a FIFO) gets the bytes as they come: a failed
 * check then shows as the exit code, as with curl.
 */
export async function downloadViaDaemon(
  daemon: string,
  request: DaemonDownloadBody,
  target: OutputTarget,
  signal: AbortSignal,
): Promise<DownloadResult & { daemon: string }> {
  const started = Date.now()
  const res = await fetch(serverUrl(daemon, DAEMON_ROUTES.download), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
    signal,
  }).catch((error: unknown) => {
    throw createError('E_NO_SUPERNODE', `daemon ${daemon} did not answer: ${(error as Error)?.message ?? error}`, { cause: error })
  })
  if (!res.ok || !res.body) throw await errorFromResponse(res, { from: `daemon ${daemon}`, fallback: 'E_DOWNLOAD_FAILED' })
  const taskId = res.headers.get(TASK_ID_HEADER) ?? ''
  const tmp = target.kind === 'file' ? `${target.path}.dragonfly-${crypto.randomUUID()}.tmp` : undefined
  const hash = createHash('sha256')
  let bytes = 0
  try {
    const body = Readable.fromWeb(res.body as never).on('data', (chunk: Buffer) => {
      hash.update(chunk)
      bytes += chunk.length
    })
    if (tmp) await pipeline(body, createWriteStream(tmp), { signal })
    else if (target.kind === 'stream') {
      const { sink, end } = openSink(target)
      await pipeline(body, sink, { signal, end })
    }
    const expected = Number(res.headers.get('content-length'))
    if (bytes !== expected) throw createError('E_DOWNLOAD_FAILED', `daemon sent ${bytes} of ${expected} bytes`)
    if (tmp) await rename(tmp, target.path)
  } catch (error) {
    if (tmp) await rm(tmp, { force: true })
    if (error instanceof DragonflyError) throw error
    throw createError(signal.aborted ? 'E_ABORTED' : 'E_DOWNLOAD_FAILED', `download through daemon ${daemon} failed: ${(error as Error)?.message ?? error}`, {
      cause: error,
    })
  }
  const digest = `sha256:${hash.digest('hex')}`
  // A private task's state is shown only to a caller with its credentials.
  const status = await fetch(serverUrl(daemon, routePath(DAEMON_ROUTES.task, { taskId })), { headers: credentialHeaders(request.headers) })
    .then((r) => r.json() as Promise<{ result?: DownloadResult }>)
    .catch(() => null)
  const result = status?.result
  if (result && result.digest !== digest) throw createError('E_DIGEST_MISMATCH', `copy from the daemon is ${digest}, the daemon verified ${result.digest}`)
  return {
    taskId,
    storageKey: taskId,
    bytesFromPeers: 0,
    bytesFromSupernode: 0,
    bytesFromSource: 0,
    wireBytes: 0,
    piecesFromPeers: 0,
    piecesFromSupernode: 0,
    pieces: 0,
    supernode: null,
    backToSource: false,
    ...result,
    bytes,
    digest,
    durationMs: Date.now() - started,
    daemon,
  }
}
