import type { EventQueue } from './event-queue.ts'
import { SYNC_COST } from './sync-cost.ts'

/**
 * CPU the supernode spends on one request over the whole HTTP path (socket,
 * routing, JSON, schema checks, swarm, answer), in microseconds. Fitted
 * from `bench:supernode` runs (`npm run bench:supernode -- --fit`; the
 * figures and the command are in bench/README.md).
 */
export interface SupernodeCostModel {
  /** Every HTTP request: register, pull, heartbeat pull, leave. */
  requestUs: number
  /** Added to a register (task lookup, admission, peer state). */
  registerUs: number
  /** Per result a pull reports. */
  resultUs: number
  /** Per assignment a pull hands out. */
  assignmentUs: number
  /** A held long-poll pull scheduling again after a wake-up (part of the same HTTP request). */
  rerunUs: number
  /** Parents protocol: one `Swarm.sync` and its answer's assembly, on top of the request (a held sync pays it again per rerun). */
  syncUs: number
  /** Parents protocol: added to each `Swarm.sync` per piece of the file (its scans over the pieces). */
  syncPieceUs: number
}

/**
 * From `npm run bench:supernode -- --fit` (the run and its conditions:
 * bench/README.md, "The supernode's time"). Every piece handed out is
 * reported once, so a run's results always equal its assignments and only
 * their sum is measurable: it is split evenly. The register's part is
 * measured directly instead (`bench:supernode -- --protocol-cost --peers
 * 10000`: 10,000 registrations at once, each on a new connection, 307-328 µs
 * of supernode CPU each over the whole path, less the request's 159): the
 * fit's 1,449 µs took in the pull protocol's costs that grow with the swarm.
 */
export const DEFAULT_COST_MODEL: SupernodeCostModel = {
  requestUs: 159,
  registerUs: 170,
  resultUs: 9.3,
  assignmentUs: 9.3,
  rerunUs: 11.5,
  ...SYNC_COST,
}

export const FREE_COST_MODEL: SupernodeCostModel = { requestUs: 0, registerUs: 0, resultUs: 0, assignmentUs: 0, rerunUs: 0, syncUs: 0, syncPieceUs: 0 }

/**
 * What the supernode is asked: `wake` is a held long-poll pull running again
 * after a change (or its deadline); it is the same HTTP request, so it pays
 * a rerun and its assignments, not another request. `sync` is the parents
 * protocol's one call (heartbeats too); `syncWake` a held sync running
 * `Swarm.sync` again.
 */
export type RequestKind = 'register' | 'pull' | 'heartbeat' | 'leave' | 'wake' | 'sync' | 'syncWake'

/** What a request did, which its cost depends on. */
export interface Work {
  results: number
  assignments: number
  /** `Swarm.sync` runs, and the file's piece count they scanned. */
  syncs?: number
  pieces?: number
}

export function requestCost(model: SupernodeCostModel, kind: RequestKind, work: Work): number {
  const us =
    (kind === 'wake' ? model.rerunUs : kind === 'syncWake' ? 0 : model.requestUs) +
    (kind === 'register' ? model.registerUs : 0) +
    work.results * model.resultUs +
    work.assignments * model.assignmentUs +
    (work.syncs ?? 0) * (model.syncUs + (work.pieces ?? 0) * model.syncPieceUs)
  return us / 1e6
}

/** A request's effect on the swarm, run when the core takes it; `answer` (if any) reaches the peer after the service and half a round trip. */
export type Handler = () => Work & { answer?: () => void }

interface Job {
  kind: RequestKind
  arrivedAt: number
  handle: Handler
}

/**
 * The supernode's one core: requests arrive half a round trip after they are
 * sent, wait in FIFO order, and occupy the core for their modelled cost; the
 * swarm sees a request when its service starts. With no cost and no round
 * trip a request is served the moment it is sent, as before charging
 * (`--uncharged`).
 */
export class SupernodeCore {
  private readonly queue: EventQueue
  private readonly model: SupernodeCostModel
  private readonly halfRtt: number
  private readonly fifo: Job[] = []
  private head = 0
  private busy = false
  readonly free: boolean
  busySeconds = 0
  results = 0
  assignments = 0
  readonly requests: Record<RequestKind, number> = { register: 0, pull: 0, heartbeat: 0, leave: 0, wake: 0, sync: 0, syncWake: 0 }
  /** Seconds each pull or sync (`pull`, `wake`, `sync`, `syncWake`; not heartbeats) waited for the core. */
  pullWaits: number[] = []
  registerWaits: number[] = []

  constructor(queue: EventQueue, model: SupernodeCostModel, rttSeconds: number) {
    this.queue = queue
    this.model = model
    this.halfRtt = rttSeconds / 2
    this.free = rttSeconds === 0 && Object.values(model).every((v) => v === 0)
  }

  /** A peer sends a request now. */
  send(kind: RequestKind, handle: Handler): void {
    if (this.free) return this.serveAtOnce(kind, handle)
    this.queue.after(this.halfRtt, () => this.enqueue({ kind, arrivedAt: this.queue.now, handle }))
  }

  /** A held request runs again on the supernode (no network in between). Never runs inside the caller: wake-ups come from inside `swarm.pull`. */
  resume(handle: Handler, kind: 'wake' | 'syncWake' = 'wake'): void {
    if (this.free) return this.queue.after(0, () => this.serveAtOnce(kind, handle))
    this.enqueue({ kind, arrivedAt: this.queue.now, handle })
  }

  private serveAtOnce(kind: RequestKind, handle: Handler): void {
    const done = handle()
    this.account(kind, done, 0)
    done.answer?.()
  }

  private enqueue(job: Job): void {
    this.fifo.push(job)
    if (!this.busy) {
      this.busy = true
      this.queue.after(0, () => this.next())
    }
  }

  private next(): void {
    const job = this.fifo[this.head]
    if (!job) {
      this.busy = false
      this.fifo.length = this.head = 0
      return
    }
    this.fifo[this.head++] = undefined as unknown as Job
    if (this.head > 4096 && this.head * 2 > this.fifo.length) {
      this.fifo.splice(0, this.head)
      this.head = 0
    }
    const done = job.handle()
    const cost = this.account(job.kind, done, this.queue.now - job.arrivedAt)
    if (done.answer) this.queue.after(cost + this.halfRtt, done.answer)
    this.queue.after(cost, () => this.next())
  }

  /** Counts a served request; returns its cost in seconds. */
  private account(kind: RequestKind, work: Work, wait: number): number {
    const cost = requestCost(this.model, kind, work)
    this.requests[kind]++
    this.results += work.results
    this.assignments += work.assignments
    this.busySeconds += cost
    if (kind === 'pull' || kind === 'wake' || kind === 'sync' || kind === 'syncWake') this.pullWaits.push(wait)
    else if (kind === 'register') this.registerWaits.push(wait)
    return cost
  }
}
