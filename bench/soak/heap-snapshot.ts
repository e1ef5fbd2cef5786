import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'

/** A V8 `.heapsnapshot`, its node and edge tables kept as flat arrays (as V8 writes them). */
export interface HeapSnapshot {
  nodeFields: string[]
  nodeTypes: string[]
  edgeFields: string[]
  edgeTypes: string[]
  nodes: Float64Array
  edges: Uint32Array
  strings: string[]
}

const NODES_KEY = Buffer.from('"nodes":[')
const EDGES_KEY = Buffer.from('"edges":[')
const STRINGS_KEY = Buffer.from('"strings":[')
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Reads a heap snapshot by streaming it: snapshots of a grown process are
 * larger than the longest string JSON.parse may hold, so the number tables
 * are parsed byte by byte and only the header and each string go through
 * JSON.parse.
 */
export async function readHeapSnapshot(path: string): Promise<HeapSnapshot> {
  const head = await open(path, 'r')
  const buf = Buffer.alloc(64 * 1024)
  const { bytesRead } = await head.read(buf, 0, buf.length, 0)
  await head.close()
  const at = buf.subarray(0, bytesRead).indexOf(NODES_KEY)
  if (at < 0) throw new Error(`${path}: not a heap snapshot (no "nodes" within 64 KiB)`)
  const header = JSON.parse(`${buf.toString('utf8', 0, at).trim().replace(/,$/, '')}}`) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }; node_count: number; edge_count: number }
  }
  const { meta, node_count, edge_count } = header.snapshot
  const nodes = new Float64Array(node_count * meta.node_fields.length)
  const edges = new Uint32Array(edge_count * meta.edge_fields.length)
  const strings: string[] = []

  // Scanner state: which key is awaited next, then what is being read.
  const keys = [NODES_KEY, EDGES_KEY, STRINGS_KEY]
  let section: 'seek' | 'nodes' | 'edges' | 'strings' | 'end' = 'seek'
  let matched = 0
  let filled = 0
  let value = 0
  let digits = false
  // A string being read: its bytes so far (earlier chunks) and where it starts in this one (-1: not in one).
  let parts: Buffer[] = []
  let start = -1
  let escaped = false
  let hasEscape = false

  const finishString = (bytes: Buffer): void => {
    const text = bytes.toString('utf8')
    strings.push(hasEscape ? (JSON.parse(`"${text}"`) as string) : text)
    parts = []
    start = -1
    hasEscape = false
  }

  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!
      if (section === 'seek') {
        const key = keys[0]!
        matched = c === key[matched] ? matched + 1 : c === key[0] ? 1 : 0
        if (matched === key.length) {
          keys.shift()
          section = key === NODES_KEY ? 'nodes' : key === EDGES_KEY ? 'edges' : 'strings'
          matched = 0
          filled = 0
        }
      } else if (section === 'nodes' || section === 'edges') {
        if (c >= 0x30 && c <= 0x39) {
          value = value * 10 + (c - 0x30)
          digits = true
        } else if (c === 0x2c || c === 0x5d) {
          if (digits) (section === 'nodes' ? nodes : edges)[filled++] = value
          value = 0
          digits = false
          if (c === 0x5d) section = keys.length > 0 ? 'seek' : 'end'
        }
      } else if (section === 'strings') {
        if (start >= 0) {
          if (escaped) escaped = false
          else if (c === BACKSLASH) escaped = hasEscape = true
          else if (c === QUOTE) finishString(Buffer.concat([...parts, chunk.subarray(start, i)]))
        } else if (c === QUOTE) start = i + 1
        else if (c === 0x5d) section = 'end'
      }
    }
    if (start >= 0) {
      parts.push(Buffer.from(chunk.subarray(start)))
      start = 0
    }
  }
  if (nodes.length !== node_count * meta.node_fields.length || strings.length === 0) throw new Error(`${path}: truncated heap snapshot`)
  return {
    nodeFields: meta.node_fields,
    nodeTypes: meta.node_types[0],
    edgeFields: meta.edge_fields,
    edgeTypes: meta.edge_types[0],
    nodes,
    edges,
    strings,
  }
}

export interface HeapSummary {
  /** Sum of every live object's own size: the heap after the full GC that a snapshot starts with. */
  bytes: number
  objects: number
  /** Count and bytes per constructor (objects), or per kind for the rest (`(closure) name`, `(string)`, …). */
  byClass: Map<string, { count: number; bytes: number }>
}

/** The name a snapshot node is grouped under: an object's constructor, else its kind (closures by function name). */
export function classOf(s: HeapSnapshot, node: number): string {
  const f = s.nodeFields.length
  const type = s.nodeTypes[s.nodes[node * f + s.nodeFields.indexOf('type')]!] ?? '?'
  const name = s.strings[s.nodes[node * f + s.nodeFields.indexOf('name')]!] ?? ''
  if (type === 'object' || type === 'native') return name
  if (type === 'closure') return `(closure) ${name || 'anonymous'}`
  if (type === 'hidden' || type === 'synthetic' || type === 'object shape' || type === 'array') return `(${type}) ${name}`.slice(0, 80)
  return `(${type})`
}

export function summarize(s: HeapSnapshot): HeapSummary {
  const f = s.nodeFields.length
  const sizeAt = s.nodeFields.indexOf('self_size')
  const byClass = new Map<string, { count: number; bytes: number }>()
  let bytes = 0
  const count = s.nodes.length / f
  for (let n = 0; n < count; n++) {
    const size = s.nodes[n * f + sizeAt]!
    bytes += size
    const key = classOf(s, n)
    const entry = byClass.get(key)
    if (entry) {
      entry.count++
      entry.bytes += size
    } else byClass.set(key, { count: 1, bytes: size })
  }
  return { bytes, objects: count, byClass }
}
