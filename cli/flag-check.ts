import type { ArgsDef } from 'citty'
import { closestNames } from '../config/did-you-mean.ts'
import { createError } from '../core/errors.ts'

interface FlagSpec {
  /** Every spelling with its dashes: `--output`, `-o`, `--no-back-source`. */
  spellings: Map<string, { takesValue: boolean; canonical: string }>
}

function flagSpec(args: ArgsDef): FlagSpec {
  const spellings: FlagSpec['spellings'] = new Map()
  for (const [name, def] of Object.entries(args)) {
    if (def.type === 'positional') continue
    const takesValue = def.type !== 'boolean'
    const canonical = `--${name}`
    spellings.set(canonical, { takesValue, canonical })
    const aliases = 'alias' in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : []
    for (const alias of aliases) spellings.set(alias.length === 1 ? `-${alias}` : `--${alias}`, { takesValue, canonical })
    if (def.type === 'boolean') spellings.set(`--no-${name}`, { takesValue: false, canonical: `--no-${name}` })
  }
  return { spellings }
}

/**
 * citty takes any flag it does not know as a value of its own: `--digets sha256:…` was accepted
 * and the digest silently not checked. Every flag must be one the command declares.
 */
export function checkFlags(command: string, rawArgs: string[], args: ArgsDef): void {
  const { spellings } = flagSpec(args)
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!
    if (arg === '--') return
    if (!arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) continue
    const eq = arg.indexOf('=')
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg.startsWith('--') ? arg : arg.slice(0, 2)
    const known = spellings.get(flag)
    if (!known) {
      const guesses = closestNames(
        flag,
        [...spellings.keys()].filter((s) => s.startsWith('--')),
      )
      const hint = guesses.length > 0 ? `; did you mean ${guesses.join(' or ')}?` : ''
      throw createError('E_BAD_ARGUMENT', `unknown flag ${JSON.stringify(flag)} for ${command}${hint} (see dragonfly ${command} --help)`, {
        details: { flag, ...(guesses.length > 0 ? { didYouMean: guesses } : {}) },
      })
    }
    const inline = flag.length < arg.length
    if (known.takesValue && !inline) {
      if (i + 1 >= rawArgs.length) throw createError('E_BAD_ARGUMENT', `${known.canonical} needs a value`, { details: { flag } })
      i++
    } else if (!known.takesValue && inline && arg.startsWith('--')) {
      throw createError('E_BAD_ARGUMENT', `${known.canonical} takes no value, got ${JSON.stringify(arg)}`, { details: { flag } })
    }
  }
}
