import type { MiddlewareHandler } from 'hono'
import type { PluginHooks } from '../contract/plugin.ts'
import { HEALTH_PATH, READY_PATH, SUPERNODE_ROUTES } from '../protocol/routes.ts'

/**
 * Paths any client may reach without passing the plugins' checks: probes, and
 * the dashboard's HTML shell, which holds no data (its script asks for the
 * token and sends it with every data request).
 */
const OPEN_PATHS = new Set<string>([HEALTH_PATH, READY_PATH, SUPERNODE_ROUTES.dashboard])

/**
 * Runs every `checkRequest` hook before the route; a hook refuses by throwing
 * a DragonflyError (E_UNAUTHORIZED, E_FORBIDDEN), which the app's onError
 * turns into the JSON error answer.
 */
export function checkRequests(hooks: readonly PluginHooks[]): MiddlewareHandler {
  const checks = hooks.flatMap((h) => (h.checkRequest ? [h.checkRequest.bind(h)] : []))
  return async function checkRequest(c, next) {
    if (checks.length > 0 && !OPEN_PATHS.has(c.req.path)) {
      for (const check of checks) await check(c.req.raw)
    }
    await next()
  }
}

/**
 * Whether `request` passes every configured `checkRequest` hook; false when
 * none is configured. On a server whose routes are not all behind the checks
 * (the daemon's local API), this is how a caller proves the admin credential.
 */
export async function passesChecks(hooks: readonly PluginHooks[], request: Request): Promise<boolean> {
  const checks = hooks.filter((h) => h.checkRequest !== undefined)
  if (checks.length === 0) return false
  try {
    for (const h of checks) await h.checkRequest!(request)
    return true
  } catch {
    return false
  }
}
