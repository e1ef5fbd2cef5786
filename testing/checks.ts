import { checkPlugin, type DragonflyPlugin } from '../core/contract/plugin.ts'

/**
 * Thrown by every conformance check that finds a problem, listing each failed
 * check, so the checks work under any test runner:
 * `it('passes', () => testTransform(myPlugin()))`.
 */
export class PluginConformanceError extends Error {
  readonly failures: string[]
  constructor(subject: string, failures: string[]) {
    super(`${subject} fails ${failures.length} check(s):\n - ${failures.join('\n - ')}`)
    this.name = 'PluginConformanceError'
    this.failures = failures
  }
}

export type Check = [name: string, run: () => Promise<void> | void]

/** Runs every check, even after a failure; resolves to the names of the checks run. */
export async function runChecks(subject: string, checks: Check[]): Promise<string[]> {
  const failures: string[] = []
  for (const [name, run] of checks) {
    try {
      await run()
    } catch (error) {
      failures.push(`${name}: ${(error as Error)?.message ?? error}`)
    }
  }
  if (failures.length) throw new PluginConformanceError(subject, failures)
  return checks.map(([name]) => name)
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

export function pseudoRandom(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

export const TEXT = new TextEncoder().encode('the quick brown fox jumps over the lazy dragonfly\n'.repeat(6000))

/** The slot of a whole plugin (checked against the contract first), or the slot itself as given. */
export function slotOf<T>(input: DragonflyPlugin | T, slot: 'transform' | 'source' | 'storage' | 'hooks' | 'cluster'): T {
  if (input && typeof input === 'object' && 'name' in input && slot in (input as object)) {
    checkPlugin(input as DragonflyPlugin)
    return (input as unknown as Record<string, T>)[slot]!
  }
  return input as T
}

/** Resolves when `condition` holds, polling; rejects with `message` after `timeoutMs`. */
export async function eventually(condition: () => Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(message)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A random lower-case hex id, so checks on a shared store never meet each other's keys. */
export function randomId(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, '0')).join('')
}
