import type { CreateHash } from '../../contract/hash.ts'
import type { PieceTransform } from '../../contract/plugin.ts'
import { pieceRange } from '../../protocol/piece-layout.ts'
import { CAPABILITY_HEADER } from '../../transfer/capability.ts'
import { fetchPiece } from '../../transfer/piece-fetch.ts'
import type { PeerState } from '../scheduler/swarm-types.ts'
import type { CdnTask } from './cdn-task.ts'

export interface DisputeContext {
  createHash: CreateHash
  transforms?: readonly PieceTransform[]
  /** Headers for requests to piece servers (auth plugins). */
  headers?: (url: string) => Record<string, string>
  /** How long the accused peer has to serve the disputed piece. @default 15000 */
  timeoutMs?: number
}

/**
 * Evidence before isolation: a peer reported that another served it a piece
 * with the wrong digest. One report is only a claim (any registrant can make
 * it), so the supernode asks the accused for that piece itself and isolates
 * it in this task only when the bytes it gets do not match the digest. One
 * check per accused peer and task at a time; a peer already isolated, or
 * that does not claim the piece, is not asked.
 */
export class DigestDisputes {
  private readonly running = new Set<string>()

  constructor(private readonly ctx: DisputeContext) {}

  /** Checks `accused` in `task` on `piece` (or, when the report named none, the first piece it claims). */
  dispute(task: CdnTask, accused: PeerState, piece: number | undefined): void {
    const key = `${task.taskId}/${accused.id}`
    if (accused.isolated || this.running.has(key)) return
    const { swarm } = task
    const claimed = (n: number | undefined): n is number =>
      n !== undefined && n < swarm.layout.pieceCount && accused.have.has(n) && swarm.digests[n] !== undefined
    let n = claimed(piece) ? piece : undefined
    for (let i = 0; n === undefined && i < swarm.layout.pieceCount; i++) if (claimed(i)) n = i
    if (n === undefined) return
    this.running.add(key)
    this.recheck(task, accused, n)
      .catch(() => {})
      .finally(() => this.running.delete(key))
  }

  private async recheck(task: CdnTask, accused: PeerState, piece: number): Promise<void> {
    const outcome = await fetchPiece({
      base: accused.address,
      taskId: task.taskId,
      piece,
      size: pieceRange(task.layout, piece).length,
      digest: task.swarm.digests[piece]!,
      createHash: this.ctx.createHash,
      timeoutMs: this.ctx.timeoutMs ?? 15_000,
      transforms: this.ctx.transforms,
      headers: {
        ...this.ctx.headers?.(accused.address),
        // A holder id like any peer's: the accused cannot tell the check from a child's request by its capability.
        ...(task.gate ? { [CAPABILITY_HEADER]: await task.gate.issue(crypto.randomUUID()) } : {}),
      },
    })
    if (!outcome.ok && outcome.error === 'digest') task.swarm.isolate(accused)
  }
}
