import type { Runtime } from './types.ts'

export type { Runtime } from './types.ts'

/** Picks the adapter for the runtime we are on; only that adapter's module is loaded. */
export async function loadRuntime(): Promise<Runtime> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown }
  if (g.Bun) return (await import('./bun.ts')).bunRuntime
  if (g.Deno) return (await import('./deno.ts')).denoRuntime
  return (await import('./node.ts')).nodeRuntime
}
