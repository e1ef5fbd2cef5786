import type * as v from 'valibot'
import { closestNames } from './did-you-mean.ts'

/**
 * valibot's issues turned into what a user reads: the key path, what the
 * value must be, and the value given; an unknown key gets the options it may
 * have meant. Schemas carry their own words for their checks
 * (core/option-values.ts); `describeIssue` words the generic ones.
 */

export interface ConfigProblem {
  /** Where, e.g. `peer.concurrency` or `peer.supernodes[0]`; '' for the config as a whole. */
  path: string
  message: string
}

type Issue = v.BaseIssue<unknown>
const NOT_OPTIONS = 'must be an object of options'
type AnySchema = v.GenericSchema & { entries?: Record<string, AnySchema>; wrapped?: AnySchema; item?: AnySchema }

/** Words for an issue whose schema brought none (pass as valibot's `message` config). */
export function describeIssue(issue: Issue): string {
  const requirement = issue.requirement as unknown
  switch (issue.type) {
    case 'object':
    case 'strict_object':
      return NOT_OPTIONS
    case 'string':
      return 'must be a string'
    case 'number':
      return 'must be a number'
    case 'boolean':
      return 'must be true or false'
    case 'array':
      return 'must be a list'
    case 'max_length':
      return `must be at most ${String(requirement)} characters long`
    case 'min_value':
      return `must be at least ${String(requirement)}`
    case 'max_value':
      return `must be at most ${String(requirement)}`
    case 'integer':
      return 'must be a whole number'
    case 'url':
      return 'must be a URL'
    default:
      return issue.expected ? `must be ${issue.expected}` : 'is not valid'
  }
}

/** Every problem the issues describe, each once: unknown keys all listed (valibot stops at the first of an object). */
export function toProblems(issues: readonly Issue[], schema: v.GenericSchema): ConfigProblem[] {
  const problems = new Map<string, ConfigProblem>()
  const add = (keys: PropertyKey[], message: string) => {
    const path = formatPath(keys)
    problems.set(`${path}\0${message}`, { path, message })
  }
  for (const issue of issues) {
    const keys = issue.path?.map((item) => item.key as PropertyKey) ?? []
    const last = issue.path?.at(-1)
    if (issue.kind === 'schema' && issue.expected === 'never' && last?.origin === 'key') {
      const parent = keys.slice(0, -1)
      // A list passes for an object (its indexes for keys): say what it is instead.
      if (Array.isArray(last.input)) {
        add(parent, `${NOT_OPTIONS}${given(last.input)}`)
        continue
      }
      const known = Object.keys(schemaAt(schema as AnySchema, parent)?.entries ?? {})
      for (const key of Object.keys(last.input as object)) {
        if (!known.includes(key)) add([...parent, key], unknownKey(schema as AnySchema, parent, key, known))
      }
    } else add(keys, `${issue.message}${given(issue.input)}`)
  }
  return [...problems.values()]
}

/** `file: path: message`, or a list when there are several. */
export function formatProblems(where: string, problems: readonly ConfigProblem[]): string {
  const line = (p: ConfigProblem) => (p.path ? `${p.path}: ${p.message}` : `the config ${p.message}`)
  if (problems.length === 1) return `${where}: ${line(problems[0]!)}`
  return `${where}: ${problems.length} problems:\n${problems.map((p) => `  - ${line(p)}`).join('\n')}`
}

function unknownKey(root: AnySchema, parent: PropertyKey[], key: string, known: string[]): string {
  // The same option in another section (`supernodes` at the top level is `peer.supernodes`), then near names here.
  const here = formatPath(parent)
  const elsewhere = optionPaths(root).filter((path) => path.at(-1)!.toLowerCase() === key.toLowerCase() && formatPath(path.slice(0, -1)) !== here)
  const near = closestNames(key, known)
  const sameButCase = near.filter((name) => name.toLowerCase() === key.toLowerCase())
  const guesses = sameButCase.length > 0 ? sameButCase : [...elsewhere.map((path) => path.join('.')), ...near].slice(0, 3)
  if (guesses.length > 0) return `unknown option; did you mean ${guesses.map((g) => `\`${g}\``).join(' or ')}?`
  return `unknown option; known ${here ? `in ${here}` : 'at the top level'}: ${known.join(', ')}`
}

/** The schema describing the value at `keys`, through optional wrappers and lists. */
function schemaAt(schema: AnySchema, keys: PropertyKey[]): AnySchema | undefined {
  let at: AnySchema | undefined = unwrap(schema)
  for (const key of keys) {
    at = at?.entries ? at.entries[String(key)] : at?.item
    at = at && unwrap(at)
  }
  return at
}

/** Every option's path, sections included (`['peer']`, `['peer', 'concurrency']`). */
function optionPaths(schema: AnySchema, parent: string[] = []): string[][] {
  return Object.entries(unwrap(schema).entries ?? {}).flatMap(([key, entry]) => [[...parent, key], ...optionPaths(entry, [...parent, key])])
}

function unwrap(schema: AnySchema): AnySchema {
  return schema.wrapped ? unwrap(schema.wrapped) : schema
}

function formatPath(keys: PropertyKey[]): string {
  return keys.map((key, i) => (typeof key === 'number' ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join('')
}

/** `, got "fast"`: the value as the user wrote it, short. */
function given(input: unknown): string {
  if (input === undefined) return ''
  if (typeof input === 'string') return `, got ${JSON.stringify(input.length > 60 ? `${input.slice(0, 57)}...` : input)}`
  if (typeof input === 'function') return ', got a function'
  if (Array.isArray(input)) return ', got a list'
  if (input !== null && typeof input === 'object') {
    const keys = Object.keys(input)
    if (keys.length === 0) return ', got {}'
    return `, got { ${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', ...' : ''} }`
  }
  return `, got ${String(input)}`
}
