import { readdirSync, readFileSync } from 'node:fs'
import { join, posix, relative } from 'node:path'

/** Comments removed; with `blankStrings`, string and template contents become spaces (line breaks kept). */
export function strip(source: string, blankStrings: boolean): string {
  let out = ''
  let i = 0
  while (i < source.length) {
    const c = source[i]!
    const next = source[i + 1]
    if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2)
      const stop = end === -1 ? source.length : end + 2
      out += source.slice(i, stop).replace(/[^\n]/g, ' ')
      i = stop
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1
      while (j < source.length && source[j] !== c) j += source[j] === '\\' ? 2 : 1
      const body = source.slice(i + 1, j)
      out += c + (blankStrings ? body.replace(/[^\n]/g, ' ') : body) + c
      i = j + 1
    } else {
      out += c
      i++
    }
  }
  return out
}

export function lineOf(text: string, index: number): number {
  return text.slice(0, index).split('\n').length
}

/** Static imports and re-exports (`import type` included), side-effect imports, dynamic `import()` and `require()`. */
const SPECIFIERS = /\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"]+)\1|\bimport\s*(['"])([^'"]+)\3|\b(?:import|require)\s*\(\s*(['"`])([^'"`]+)\5/g

export interface ImportEdge {
  /** Repository-relative path with forward slashes, e.g. `core/peer/peer.ts`. */
  from: string
  /** The specifier as written. */
  spec: string
  /** Repository-relative target for relative specifiers, else undefined (a package). */
  to?: string
  line: number
  /** `export … from`: the file hands another file's names on. */
  reexport: boolean
}

/** Every import of `source` (the text of `file`, a repository-relative path). */
export function importsOf(file: string, source: string): ImportEdge[] {
  const code = strip(source, false)
  const edges: ImportEdge[] = []
  for (const m of code.matchAll(SPECIFIERS)) {
    const spec = (m[2] ?? m[4] ?? m[6])!
    const to = spec.startsWith('.') ? posix.join(posix.dirname(file), spec) : undefined
    edges.push({ from: file, spec, to, line: lineOf(code, m.index), reexport: m[0].startsWith('export') })
  }
  return edges
}

/** The .ts files under `dirs` (repository-relative), as repository-relative paths. */
export function sourceFiles(root: string, dirs: readonly string[]): string[] {
  return dirs.flatMap((dir) =>
    (readdirSync(join(root, dir), { recursive: true }) as string[])
      .filter((name) => name.endsWith('.ts') && !name.includes('node_modules'))
      .map((name) =>
        relative(root, join(root, dir, name))
          .split('\\')
          .join('/'),
      ),
  )
}

/** The import graph of `files`: file -> its relative imports (targets inside the set only). */
export function importGraph(root: string, files: readonly string[]): Map<string, ImportEdge[]> {
  const known = new Set(files)
  const graph = new Map<string, ImportEdge[]>()
  for (const file of files) {
    const edges = importsOf(file, readFileSync(join(root, file), 'utf8'))
    graph.set(
      file,
      edges.filter((e) => e.to !== undefined && known.has(e.to)),
    )
  }
  return graph
}

/** The import circles of `graph`: strongly connected components of more than one file, or a file importing itself. */
export function findCycles(graph: ReadonlyMap<string, readonly { to?: string }[]>): string[][] {
  // Tarjan's algorithm, iterative so deep graphs cannot overflow the stack.
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: string[] = []
  const cycles: string[][] = []
  let counter = 0
  for (const start of graph.keys()) {
    if (index.has(start)) continue
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }]
    index.set(start, counter)
    low.set(start, counter++)
    stack.push(start)
    onStack.add(start)
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const targets = (graph.get(frame.node) ?? []).flatMap((e) => (e.to === undefined ? [] : [e.to]))
      if (frame.next < targets.length) {
        const target = targets[frame.next++]!
        if (!index.has(target)) {
          index.set(target, counter)
          low.set(target, counter++)
          stack.push(target)
          onStack.add(target)
          work.push({ node: target, next: 0 })
        } else if (onStack.has(target)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(target)!))
        }
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!))
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = []
        let member: string
        do {
          member = stack.pop()!
          onStack.delete(member)
          component.push(member)
        } while (member !== frame.node)
        const selfLoop = targets.includes(frame.node)
        if (component.length > 1 || selfLoop) cycles.push(component.sort())
      }
    }
  }
  return cycles
}
