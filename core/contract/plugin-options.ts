import * as v from 'valibot'
import { createError } from '../errors.ts'

/**
 * One schema per option of `O`, no more and no fewer, each accepting what `O`
 * declares. Write `v.strictObject({ ... } satisfies PluginOptionsEntries<MyOptions>)`:
 * the exported options interface keeps its JSDoc, and the compiler refuses a
 * schema that drifts from it.
 */
export type PluginOptionsEntries<O> = { [K in keyof Required<O>]: v.GenericSchema<O[K & keyof O], unknown> }

type OptionsSchema = v.StrictObjectSchema<v.ObjectEntries, v.ErrorMessage<v.StrictObjectIssue> | undefined>

/**
 * Checks the options a plugin factory was given against its `v.strictObject`
 * schema and returns them with the defaults filled in. An unknown key (with
 * "did you mean" for a near miss), a wrong type or a missing required option
 * throws E_PLUGIN naming the plugin and the option: a config file written in
 * JavaScript gets the same check as a typed one.
 */
export function checkPluginOptions<S extends OptionsSchema>(plugin: string, options: unknown, schema: S): v.InferOutput<S> {
  const result = v.safeParse(schema, options === undefined ? {} : options, { message: (issue) => `must be ${expectation(issue.expected)}` })
  if (result.success) return result.output
  const problems = result.issues.map((issue) => describeIssue(schema, issue))
  throw createError('E_PLUGIN', `${plugin}: ${[...new Set(problems)].join('; ')}`)
}

function describeIssue(root: OptionsSchema, issue: v.BaseIssue<unknown>): string {
  const path = (issue.path ?? []) as { key: unknown; origin?: string }[]
  const name = `\`${pathText(path.map((p) => p.key))}\``
  const last = path.at(-1)
  if (last?.origin === 'key' && issue.type === 'strict_object') {
    if (issue.expected !== 'never') return `option ${name} is required`
    const known = Object.keys(
      schemaAt(
        root,
        path.slice(0, -1).map((p) => p.key),
      )?.entries ?? {},
    )
    const guess = closest(String(last.key), known)
    return `unknown option ${name}${guess ? ` (did you mean \`${guess}\`?)` : ''}; known: ${known.join(', ')}`
  }
  return `${path.length ? `option ${name}` : 'options'} ${issue.message}${receivedText(issue)}`
}

/** What was given instead; a string is echoed only when it had to be one of a list, since it may be a secret or a token. */
function receivedText(issue: v.BaseIssue<unknown>): string {
  if (typeof issue.input !== 'string') return `, got ${issue.received}`
  if (issue.type === 'picklist') return `, got ${issue.received}`
  return issue.kind === 'schema' ? ', got a string' : ''
}

/** Valibot's `expects` text in words: `number` → `a number`, `("a" | "b")` → `one of "a", "b"`. */
function expectation(expected: string | null): string {
  if (!expected) return 'valid'
  const words: Record<string, string> = {
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    Array: 'a list',
    Object: 'an object',
    RegExp: 'a RegExp',
  }
  if (words[expected]) return words[expected]
  const options = expected.replace(/^\((.*)\)$/, '$1').split(' | ')
  return options.length > 1 ? `one of ${options.map((o) => words[o] ?? o).join(', ')}` : expected
}

function pathText(keys: unknown[]): string {
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`)).join('')
}

interface SchemaNode {
  wrapped?: SchemaNode
  entries?: Record<string, SchemaNode>
  item?: SchemaNode
}

/** The object schema an issue's path leads to, through optional wrappers and arrays. */
function schemaAt(root: OptionsSchema, keys: unknown[]): SchemaNode | undefined {
  const unwrap = (s: SchemaNode | undefined) => {
    while (s?.wrapped) s = s.wrapped
    return s
  }
  let node = unwrap(root as SchemaNode)
  for (const key of keys) node = unwrap(typeof key === 'number' ? node?.item : node?.entries?.[String(key)])
  return node
}

/** The known key a misspelt one most likely meant: a small edit distance, letter case ignored. */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(1, Math.floor(key.length / 3)) + 1
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return best
}

/** Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = d
    }
  }
  return rows[a.length]![b.length]!
}
