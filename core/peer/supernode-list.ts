import * as v from 'valibot'
import type { SupernodeClient } from './supernode-client.ts'

const Answer = v.object({
  supernodes: v.pipe(v.array(v.looseObject({ url: v.pipe(v.string(), v.maxLength(512), v.regex(/^https?:\/\/[^/\s]+$/)) })), v.maxLength(64)),
})

/**
 * The supernodes a peer uses, best first: what the cluster's config service
 * last answered (nearest by location, then least loaded), then the ones the
 * user gave that it did not name. Asked again every `refreshMs` and after a
 * supernode failed; a supernode that is not in a cluster answers 404 and the
 * list stays the user's.
 */
export class SupernodeList {
  private learned: string[] = []
  private refreshedAt = 0
  private refreshing?: Promise<void>

  constructor(
    private readonly given: readonly string[],
    private readonly client: SupernodeClient,
    private readonly location: string | undefined,
    private readonly refreshMs: number,
  ) {}

  /** Bases in the order to try them. */
  current(): string[] {
    const out = [...this.learned]
    for (const base of this.given) if (!out.includes(base)) out.push(base)
    return out
  }

  /** A list the cluster sent along another answer (a registration), best first. */
  learn(urls: readonly string[] | undefined): void {
    const valid = (urls ?? []).filter((u) => typeof u === 'string' && /^https?:\/\/[^/\s]+$/.test(u)).slice(0, 64)
    if (valid.length === 0) return
    this.learned = valid
    this.refreshedAt = Date.now()
  }

  /** Refreshes when the last answer is older than `refreshMs` (or `force`); never throws. */
  refresh(force = false): Promise<void> {
    if (!force && Date.now() - this.refreshedAt < this.refreshMs) return Promise.resolve()
    this.refreshing ??= this.ask().finally(() => (this.refreshing = undefined))
    return this.refreshing
  }

  private async ask(): Promise<void> {
    for (const base of this.current()) {
      const answer = v.safeParse(Answer, await this.client.supernodes(base, this.location).catch(() => null))
      if (!answer.success) continue
      this.refreshedAt = Date.now()
      if (answer.output.supernodes.length > 0) this.learned = answer.output.supernodes.map((s) => s.url.replace(/\/+$/, ''))
      return
    }
    this.refreshedAt = Date.now()
  }
}
