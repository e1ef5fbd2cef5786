import type { ArgsDef, CommandDef, CommandMeta } from 'citty'
import { runCommand } from 'citty'
import { closestNames } from '../config/did-you-mean.ts'
import { createError } from '../core/errors.ts'
import { checkFlags } from './flag-check.ts'
import { renderHelp } from './help.ts'
import { reportError } from './report-error.ts'

type AnyCommand = CommandDef<ArgsDef>
/** Lazy commands (`dragonfly get` does not load the supernode). Typed loosely: citty's CommandDef is invariant in its args. */
export type CommandLoaders = Record<string, () => Promise<object>>

const isHelp = (a: string): boolean => a === '--help' || a === '-h'

function flagsBefore(argv: string[]): string[] {
  const end = argv.indexOf('--')
  return end < 0 ? argv : argv.slice(0, end)
}

/**
 * Runs `dragonfly <command> ...` with the checks citty leaves out: an unknown
 * command or flag, a missing value or positional is a usage error (E_BAD_ARGUMENT,
 * exit 2, printed like every other error), and help is plain text within 80 columns.
 */
export async function runCli(meta: CommandMeta, commands: CommandLoaders, argv: string[]): Promise<void> {
  const json = flagsBefore(argv).includes('--json')
  process.stdout.on('error', stdoutFailed)
  try {
    const [name, ...rest] = argv
    if (name === undefined || isHelp(name)) {
      const subs = await Promise.all(Object.values(commands).map(async (load) => ((await load()) as AnyCommand).meta as CommandMeta))
      const text = renderHelp(meta.name ?? 'dragonfly', meta, {}, subs)
      if (name === undefined) {
        process.stderr.write(`${text}\n`)
        throw createError('E_BAD_ARGUMENT', 'no command given')
      }
      process.stdout.write(`${text}\n`)
      return
    }
    if ((name === '--version' || name === '-v') && rest.length === 0) {
      process.stdout.write(`${meta.version}\n`)
      return
    }
    const load = Object.hasOwn(commands, name) ? commands[name] : undefined
    if (!load) {
      const guesses = closestNames(name, Object.keys(commands))
      const hint = guesses.length > 0 ? `; did you mean ${guesses.join(' or ')}?` : ''
      throw createError('E_BAD_ARGUMENT', `unknown command ${JSON.stringify(name)}${hint} (commands: ${Object.keys(commands).join(', ')})`)
    }
    const command = (await load()) as AnyCommand
    const args = (command.args ?? {}) as ArgsDef
    if (flagsBefore(rest).some(isHelp)) {
      process.stdout.write(`${renderHelp(`${meta.name} ${name}`, command.meta as CommandMeta, args)}\n`)
      return
    }
    checkFlags(name, rest, args)
    await runCommand(command, { rawArgs: rest }).catch((error: unknown) => {
      // citty's own usage errors (a missing positional) are plain Errors named CLIError.
      if (error instanceof Error && error.name === 'CLIError') throw createError('E_BAD_ARGUMENT', `${error.message} (see dragonfly ${name} --help)`)
      throw error
    })
  } catch (error) {
    reportError(error, json)
  }
}

/**
 * stdout's reader went away (`dragonfly get url --json | head -c 0`): what was
 * left to print is not wanted, and it is no crash. A download into stdout
 * (`-o -`) sees the failed write itself and ends with E_IO.
 */
function stdoutFailed(error: NodeJS.ErrnoException): void {
  if (error.code === 'EPIPE') return
  reportError(createError('E_IO', `cannot write to stdout: ${error.message}`), false, process.stderr)
}
