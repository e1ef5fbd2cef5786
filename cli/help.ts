import type { ArgsDef, CommandMeta } from 'citty'

const WIDTH = 80
const INDENT = '      '

/** Words laid into lines of at most `width` columns; a single longer word (a URL) gets a line of its own. */
function wrap(text: string, width: number, indent: string): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(indent + line)
  return lines
}

function spellingOf(name: string, def: ArgsDef[string]): string {
  const aliases = 'alias' in def && def.alias ? (Array.isArray(def.alias) ? def.alias : [def.alias]) : []
  const short = aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`))
  const value = def.type === 'boolean' ? '' : ` <${'valueHint' in def && def.valueHint ? def.valueHint : name}>`
  return `${[...short, `--${name}`].join(', ')}${value}`
}

/**
 * A command's help in 80 columns: each flag on its own line, its description
 * wrapped under it. citty's two-column table runs past 100 columns for `get`.
 */
export function renderHelp(command: string, meta: CommandMeta, args: ArgsDef, subCommands: CommandMeta[] = []): string {
  const out: string[] = [...wrap(meta.description ?? '', WIDTH, ''), '']
  const positionals = Object.entries(args).filter(([, d]) => d.type === 'positional')
  const usage = positionals.map(([n, d]) => (d.required === false ? `[${n.toUpperCase()}]` : `<${n.toUpperCase()}>`))
  if (subCommands.length > 0) usage.unshift('<command>')
  out.push(...wrap(`Usage: ${command} ${[...usage, '[options]'].join(' ')}`, WIDTH, ''), '')
  if (subCommands.length > 0) {
    out.push('Commands:')
    const pad = Math.max(...subCommands.map((c) => (c.name ?? '').length))
    const hanging = ' '.repeat(pad + 4)
    for (const sub of subCommands) {
      const [first = '', ...more] = wrap(sub.description ?? '', WIDTH, hanging)
      out.push(`  ${(sub.name ?? '').padEnd(pad)}  ${first.trimStart()}`, ...more)
    }
    out.push('', `Run '${command} <command> --help' for a command's options.`, '')
  }
  if (positionals.length > 0) {
    out.push('Arguments:')
    for (const [name, def] of positionals) out.push(`  ${name.toUpperCase()}`, ...wrap(def.description ?? '', WIDTH, INDENT))
    out.push('')
  }
  const flags = Object.entries(args).filter(([, d]) => d.type !== 'positional')
  if (flags.length > 0) {
    out.push('Options:')
    for (const [name, def] of flags) {
      out.push(...wrap(spellingOf(name, def), WIDTH, '  '), ...wrap(def.description ?? '', WIDTH, INDENT))
      if (def.type === 'boolean' && 'negativeDescription' in def && def.negativeDescription)
        out.push(`  --no-${name}`, ...wrap(def.negativeDescription, WIDTH, INDENT))
    }
    out.push('')
  }
  return out.join('\n')
}
