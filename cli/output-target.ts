import { createWriteStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { Readable, type Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { StorageDriver } from '../core/contract/storage.ts'
import { createError } from '../core/errors.ts'
import { freeName, nameFromUrl } from './output-name.ts'

/**
 * Where `get` puts the content. A regular file appears by rename, complete or
 * not at all. stdout (`-o -`), a FIFO or a character device is written into
 * as a stream: renaming onto one would replace it (as root, `-o /dev/null`
 * used to turn /dev/null into a regular file).
 */
export type OutputTarget = { kind: 'file'; path: string } | { kind: 'stream'; path: string; label: string }

export async function resolveOutputTarget(output: string | undefined, url: string, cwd = process.cwd()): Promise<OutputTarget> {
  if (output === '-') return { kind: 'stream', path: '-', label: 'stdout' }
  const path = output === undefined ? await freeName(cwd, nameFromUrl(url)) : resolve(cwd, output)
  const parent = await stat(dirname(path)).catch(() => null)
  if (!parent?.isDirectory()) throw createError('E_BAD_ARGUMENT', `the directory of --output does not exist: ${dirname(path)}`)
  const existing = await stat(path).catch(() => null)
  if (!existing || existing.isFile()) return { kind: 'file', path }
  if (existing.isDirectory()) throw createError('E_BAD_ARGUMENT', `--output is a directory: ${path}`)
  if (existing.isFIFO() || existing.isCharacterDevice()) return { kind: 'stream', path, label: path }
  throw createError('E_BAD_ARGUMENT', `--output is a ${existing.isBlockDevice() ? 'block device' : 'socket'}; refusing to write into it: ${path}`)
}

/** The sink of a stream target: stdout is left open (the process ends it), anything else is opened for writing, never created anew. */
export function openSink(target: Extract<OutputTarget, { kind: 'stream' }>): { sink: Writable; end: boolean } {
  if (target.path === '-') return { sink: process.stdout, end: false }
  return { sink: createWriteStream(target.path, { flags: 'w' }), end: true }
}

const CHUNK = 4 * 1024 * 1024

/** Copies a finished, verified download from storage into a stream target, then drops it from storage. */
export async function streamFromStorage(storage: StorageDriver, key: string, target: Extract<OutputTarget, { kind: 'stream' }>): Promise<void> {
  const size = (await storage.getMeta<{ contentLength?: number }>(key))?.contentLength
  if (typeof size !== 'number') throw createError('E_IO', `storage ${storage.name} has no length for ${key}`)
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let at = 0; at < size!; at += CHUNK) yield await storage.readAt(key, at, Math.min(CHUNK, size! - at))
  }
  const { sink, end } = openSink(target)
  try {
    await pipeline(Readable.from(chunks()), sink, { end })
  } catch (error) {
    throw createError('E_IO', `cannot write to ${target.label}: ${(error as Error)?.message ?? error}`, { cause: error })
  }
  await storage.remove(key)
}
