import { toDragonflyError } from '../core/errors.ts'
import { errorBody } from '../core/protocol/error-body.ts'
import { consola } from './logger.ts'
import { permissionError } from './runtime-permission.ts'

/** Prints an error once, with its code, and sets the exit code; never a stack trace. */
export function reportError(error: unknown, json = false, stream: NodeJS.WritableStream = process.stdout): void {
  const err = permissionError(error) ?? toDragonflyError(error)
  if (json) stream.write(`${JSON.stringify(errorBody(err))}\n`)
  else consola.error(`${err.code}: ${err.message}`)
  if (process.env.DRAGONFLY_DEBUG && err.cause) console.error(err.cause)
  process.exitCode = err.exitCode
}
