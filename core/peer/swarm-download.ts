import { createError } from '../errors.ts'
import { type AssignmentDto, type RegisterResponse, type SourceFailure, SUPERNODE_ID, type SyncResponse } from '../protocol/api-schema.ts'
import { decodeDigestRun } from '../protocol/digest-run.ts'
import { decodeError } from '../protocol/error-body.ts'
import { pieceRange } from '../protocol/piece-layout.ts'
import { capabilityHeader } from '../transfer/capability.ts'
import type { DownloadHost } from './download-host.ts'
import type { DownloadRequest, DownloadStats } from './download-types.ts'
import { ParentSet } from './parent-set.ts'
import type { LocalTask } from './peer-tasks.ts'
import { pickPiece } from './piece-picker.ts'
import { PieceReceiver } from './piece-receiver.ts'
import { seedSlotCap } from './seed-slots.ts'

export interface SwarmDownloadContext {
  host: DownloadHost
  /** The supernode this registration belongs to. */
  base: string
  registration: RegisterResponse
  task: LocalTask
  stats: DownloadStats
  request: DownloadRequest
  /**
   * Hash the whole content as pieces arrive. Needed only against a digest the
   * user gave: pieces are already verified against the supernode's digests.
   */
  hashWhole: boolean
  /** Called after each stored piece (throttled by the caller). */
  progress?: () => void
}

/**
 * How often a downloading peer reports to the supernode (holdings, bytes, failures) when nothing else makes it,
 * until the supernode says otherwise (`syncAfterMs`, longer in a large swarm), within these bounds.
 */
const SYNC_INTERVAL_MS = 2_000
const SYNC_INTERVAL_MIN_MS = 1_000
const SYNC_INTERVAL_MAX_MS = 20_000
/**
 * The least time between two syncs of a peer that has nothing to fetch (the supernode long-polls those). It
 * batches the syncs of a peer that keeps pace with the supernode's source fetch, each new piece a grant. A
 * supernode that says it `holds` keeps it instead: the long-poll goes at once with `holdMs`, and is answered as
 * soon as the source fetch ends (waiting here was up to 250 ms after a cold task's last byte from the source).
 * While no digest is known (a cold task: the supernode has only just begun the source fetch), long-polls go at once
 * and unheld; waiting here was 250 ms before every cold task's first byte.
 */
const DRY_SYNC_SPACING_MS = 250
/**
 * Grants held beyond the first copies running: the next one starts the
 * moment one ends, instead of a sync's round trip later (on a congested
 * link to the supernode, 0.2-1 s). At least this many, and as many as the
 * first copies running (`seedAhead`): the next sync is sent when half of
 * them are used, so a lone peer taking every piece from the supernode syncs
 * every few pieces, not every other one.
 */
const SEED_AHEAD = 2
/** Pieces in flight from one parent. */
const PER_PARENT = 3
/** End game: once this many pieces or fewer are missing and all are in flight, idle parents fetch copies of them. */
const ENDGAME_PIECES = 8

/**
 * The parents protocol's download loop. The supernode names the parents and
 * grants first copies (`sync`, every SYNC_INTERVAL_MS or `syncAfterMs`, sooner when the
 * grants run low or nothing is left to fetch); the parents announce what they
 * hold (ParentSet); this loop picks pieces itself, rarest first among the
 * parents, PER_PARENT in flight each and `concurrency` in all, first copies
 * from the supernode first. Each piece goes to the `PieceReceiver`. Returns
 * the whole-content digest the supernode announced, if any.
 */
export async function runSwarmDownload(ctx: SwarmDownloadContext): Promise<string | undefined> {
  const { host, base, registration, request, task } = ctx
  const { peerId, taskId, pieceCount, peerSecret } = registration
  const concurrency = limitedConcurrency(
    Math.min(host.options.concurrency, bytesInFlightCap(registration.pieceSize)),
    host.downloadRate(taskId),
    registration.pieceSize,
    host.options.pieceTimeoutMs,
  )
  const receiver = new PieceReceiver({ ...ctx, url: request.url, pieceSize: registration.pieceSize, concurrency })
  const digests: (string | undefined)[] = new Array(pieceCount)
  let digestsKnown = 0
  /** The tag of the parent list the last answer gave (SyncResponse.parentsTag); undefined once this peer dropped one of them. */
  let heldParentsTag: string | undefined
  const inflight = new Map<number, string[]>()
  const running = new Set<Promise<void>>()
  const seedQueue: number[] = []
  let seedInflight = 0
  /** First copies to run at once: the supernode's share for this peer (its uplink split among the downloading peers). */
  let seedSlots = 1
  const received = new Map<string, { pieces: number; bytes: number }>()
  const failed: SourceFailure[] = []
  let haveChanged = true
  let announced = registration.digest
  let lastSync = 0
  /** The supernode keeps the spacing between long-polls itself (`holdMs`). */
  let supernodeHolds = false
  let syncInterval = SYNC_INTERVAL_MS
  let syncing: Promise<void> | null = null
  let syncError: unknown
  let seedEmpty = false
  let waker: (() => void) | null = null
  const wake = (): void => {
    waker?.()
    waker = null
  }
  const offset = hashOffset(peerId, Math.max(1, pieceCount))
  const verifiable = (n: number): boolean => digests[n] !== undefined
  const parents: ParentSet = new ParentSet({
    taskId,
    pieceCount,
    headers: (url) => ({ ...host.outgoingHeaders(url), ...capabilityHeader(task.capability) }),
    onChange: wake,
    fetch: host.options.apiFetch,
    knowsWork: (link) => pickPiece({ parent: link.have, have: task.have, inflight, verifiable, availability: parents.availability, offset }) !== undefined,
  })
  request.signal?.addEventListener('abort', wake)
  host.joined(taskId, base, peerId, peerSecret)

  const applyDigests = (answer: SyncResponse): void => {
    // A supernode that predates the compact form answers with the list.
    const list = typeof answer.digestsBase64 === 'string' ? (decodeDigestRun(answer.digestsBase64, pieceCount) ?? []) : answer.digests
    list.forEach((d, i) => {
      const n = answer.digestsFrom + i
      if (typeof d === 'string' && /^[0-9a-f]{64}$/.test(d) && n < pieceCount) digests[n] = d
    })
    while (digestsKnown < pieceCount && digests[digestsKnown] !== undefined) digestsKnown++
  }

  const sync = async (dry: boolean, holdMs = 0): Promise<void> => {
    lastSync = performance.now()
    const seed = Math.max(0, seedSlots + seedAhead(seedSlots) - seedQueue.length - seedInflight)
    const body = {
      peerId,
      ...(haveChanged ? { have: task.have.toBase64() } : {}),
      received: [...received].map(([from, r]) => ({ from, ...r })),
      failed: failed.splice(0),
      digestsFrom: digestsKnown,
      seed,
      wait: dry,
      digestsAs: 'base64' as const,
      ...(heldParentsTag ? { parentsTag: heldParentsTag } : {}),
      ...(holdMs > 0 ? { holdMs } : {}),
    }
    haveChanged = false
    received.clear()
    const answer = await host.client.sync(base, taskId, body, peerSecret)
    if (answer.error) throw decodeError(answer.error, { from: `supernode ${base}`, fallback: 'E_NO_SUPERNODE' })
    supernodeHolds = answer.holds === true
    host.joined(taskId, base, peerId, peerSecret)
    if (answer.digest) announced = answer.digest
    // Private task: capabilities expire; each answer carries one good for a while longer.
    if (typeof answer.capability === 'string') task.capability = answer.capability
    applyDigests(answer)
    // No list: the same parents as the tag this sync sent named (a supernode leaves it out only then).
    if (Array.isArray(answer.parents)) {
      parents.update(answer.parents.filter((p) => p.id !== peerId))
      heldParentsTag = typeof answer.parentsTag === 'string' ? answer.parentsTag : undefined
    }
    seedEmpty = seed > 0 && answer.seed.length === 0
    if (Number.isInteger(answer.seedSlots) && answer.seedSlots! > 0) seedSlots = Math.min(answer.seedSlots!, seedSlotCap(concurrency, parents.links.size))
    if (Number.isFinite(answer.syncAfterMs)) syncInterval = Math.min(SYNC_INTERVAL_MAX_MS, Math.max(SYNC_INTERVAL_MIN_MS, answer.syncAfterMs!))
    for (const n of answer.seed) if (Number.isInteger(n) && n >= 0 && n < pieceCount && !task.have.has(n) && !seedQueue.includes(n)) seedQueue.push(n)
  }
  const startSync = (dry: boolean, holdMs = 0): void => {
    syncing = sync(dry, holdMs)
      .catch((error) => void (syncError = error))
      .finally(() => {
        syncing = null
        wake()
      })
  }

  const launch = (piece: number, from: string, address: string | undefined): boolean => {
    // A held piece settles at once: launching one would spin this loop on microtasks and starve the sockets.
    if (task.have.has(piece)) return false
    const sources = inflight.get(piece)
    if (sources) sources.push(from)
    else inflight.set(piece, [from])
    const link = from === SUPERNODE_ID ? undefined : parents.links.get(from)
    if (link) link.inflight++
    else if (from === SUPERNODE_ID) seedInflight++
    const assignment: AssignmentDto = { piece, digest: digests[piece]!, size: pieceRange(task.layout, piece).length, from, ...(address ? { address } : {}) }
    const started = performance.now()
    const job: Promise<void> = receiver
      .receive(assignment, link ? (encoded) => parents.heard(link.id, encoded) : undefined)
      .then((result) => {
        if (result.ok && result.bytes) {
          const r = received.get(from) ?? { pieces: 0, bytes: 0 }
          r.pieces++
          r.bytes += result.bytes
          received.set(from, r)
          haveChanged = true
          if (link) {
            link.received++
            const ms = performance.now() - started
            link.pieceMs = link.pieceMs ? link.pieceMs * 0.7 + ms * 0.3 : ms
          }
        } else if (!result.ok) {
          failed.push({ from, error: result.error ?? 'http', piece })
          // The supernode hears of it at the next sync (and may list the parent again later).
          if (link) {
            parents.drop(from)
            // The parents held are no longer the list the supernode gave: the next answer lists them all again.
            heldParentsTag = undefined
          }
        }
      })
      .catch((error) => void (receiver.fatal ??= error))
      .finally(() => {
        running.delete(job)
        const left = inflight.get(piece)?.filter((s) => s !== from)
        if (left?.length) inflight.set(piece, left)
        else inflight.delete(piece)
        if (link) link.inflight--
        else if (from === SUPERNODE_ID) seedInflight--
        wake()
      })
    running.add(job)
    return true
  }

  /** Starts every fetch there is room and a source for; returns whether something runs. */
  const fill = (): void => {
    while (seedQueue.length > 0 && seedInflight < seedSlots && running.size < concurrency) {
      const piece = seedQueue.shift()!
      if (!task.have.has(piece) && !inflight.has(piece) && digests[piece] !== undefined) launch(piece, SUPERNODE_ID, undefined)
    }
    for (let launched = true; launched && running.size < concurrency; ) {
      launched = false
      // Faster parents first: a slow one gets what is left.
      const links = [...parents.links.values()].sort((a, b) => a.inflight - b.inflight || a.pieceMs - b.pieceMs)
      for (const link of links) {
        if (running.size >= concurrency) break
        if (link.inflight >= PER_PARENT) continue
        const piece = pickPiece({ parent: link.have, have: task.have, inflight, verifiable, availability: parents.availability, offset })
        if (piece === undefined) continue
        if (launch(piece, link.id, link.address)) launched = true
      }
    }
    // In flight and still missing: a held piece may still have a losing copy settling.
    const wanted = [...inflight].filter(([piece]) => !task.have.has(piece))
    const missing = pieceCount - task.have.count
    if (running.size < concurrency && missing <= ENDGAME_PIECES && missing === wanted.length) {
      for (const [piece, sources] of wanted) {
        if (running.size >= concurrency || sources.length >= 2) continue
        const spare = [...parents.links.values()].find((l) => l.inflight < PER_PARENT && l.have.has(piece) && !sources.includes(l.id))
        if (spare) launch(piece, spare.id, spare.address)
      }
    }
  }

  try {
    await sync(false)
    while (!task.have.complete) {
      if (receiver.fatal) throw receiver.fatal
      if (syncError) throw syncError
      if (request.signal?.aborted) throw createError('E_ABORTED', 'download interrupted')
      fill()
      const now = performance.now()
      const dry = running.size === 0
      const seedLow = !seedEmpty && seedQueue.length + seedInflight < seedSlots + Math.ceil(seedAhead(seedSlots) / 2)
      const spacingLeft = Math.ceil(DRY_SYNC_SPACING_MS - (now - lastSync))
      // No digest known yet (the supernode has only just begun the source fetch): nothing to batch, and the
      // supernode holds the long-poll until the first digests anyway.
      const coldStart = digestsKnown === 0
      const dryDue = dry && (spacingLeft <= 0 || coldStart || supernodeHolds)
      if (!syncing && (dryDue || seedLow || now - lastSync >= syncInterval)) startSync(dry, dry && !coldStart ? Math.max(0, spacingLeft) : 0)
      const timer = setTimeout(wake, dry && !syncing ? DRY_SYNC_SPACING_MS : syncInterval)
      await new Promise<void>((resolve) => (waker = resolve))
      clearTimeout(timer)
    }
    if (receiver.fatal) throw receiver.fatal
    await Promise.allSettled(running)
    if (syncing) await syncing
    haveChanged = true
    await sync(false).catch(() => {})
    return announced
  } finally {
    request.signal?.removeEventListener('abort', wake)
    parents.close()
    receiver.stop()
    await Promise.allSettled(running)
  }
}

/**
 * Pieces held in memory at once are bounded by bytes, not count: large pieces,
 * fewer in flight (peer RSS). Measured on a 1 GiB get (4 MiB pieces, direct
 * writes, hash thread): 16 MiB 1.74 s median of 5, 24 MiB 1.61 s, 32 MiB 1.50 s,
 * peak RSS 125 and 143 MiB for 16 and 32.
 */
const MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024

export function bytesInFlightCap(pieceSize: number): number {
  return Math.max(2, Math.floor(MAX_BYTES_IN_FLIGHT / pieceSize))
}

/**
 * Under a rate limit, fewer pieces in flight: each should still arrive well
 * within the piece timeout (a third of it), or pieces that are merely paced
 * would be given up on.
 */
export function limitedConcurrency(concurrency: number, rate: number, pieceSize: number, timeoutMs: number): number {
  if (!rate) return concurrency
  return Math.max(1, Math.min(concurrency, Math.floor((rate * timeoutMs) / 3000 / pieceSize)))
}

/** Grants to hold beyond the `slots` first copies that run at once. */
function seedAhead(slots: number): number {
  return Math.max(SEED_AHEAD, slots)
}

function hashOffset(id: string, modulo: number): number {
  let h = 2166136261
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619)
  return (h >>> 0) % modulo
}
