import { consola } from './logger.ts'
import { toDragonflyError } from '../core/errors.ts'

/** Prints an error once, with its code, and sets the exit code; never a stack trace. */
export function reportError(error: unknown, json = false): void {
  const err = toDragonflyError(error)
  if (json) process.stdout.write(`${JSON.stringify({ error: err.toJSON() })}\n`)
  else consola.error(`${err.code}: ${err.message}`)
  if (process.env.DRAGONFLY_DEBUG && err.cause) console.error(err.cause)
  process.exitCode = err.exitCode
}
