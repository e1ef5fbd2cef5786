import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createError } from '../core/errors.ts'

/**
 * The file name wget would pick for a URL: its last path segment, decoded.
 * No name (a URL ending in `/`, `.`, `..`, or one with a separator or a
 * control character once decoded) is an error rather than a guess.
 */
export function nameFromUrl(url: string): string {
  let path: string
  try {
    path = new URL(url).pathname
  } catch {
    throw createError('E_BAD_ARGUMENT', `not a URL: ${JSON.stringify(url)}`)
  }
  const segment = path.slice(path.lastIndexOf('/') + 1)
  let name: string
  try {
    name = decodeURIComponent(segment)
  } catch {
    name = segment
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (!name || name === '.' || name === '..' || /[/\\\u0000-\u001f\u007f]/.test(name))
    throw createError('E_BAD_ARGUMENT', `cannot take a file name from ${JSON.stringify(url)}: pass -o <file> (or -o - for stdout)`)
  return name
}

/** Like wget, an existing file is not overwritten by a name the user did not type: `name.1`, `name.2`, ... */
export async function freeName(dir: string, name: string): Promise<string> {
  for (let n = 0; ; n++) {
    const candidate = join(dir, n === 0 ? name : `${name}.${n}`)
    if (!(await stat(candidate).catch(() => null))) return candidate
  }
}
