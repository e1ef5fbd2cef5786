/**
 * Colour only for a person at a terminal: never into a pipe or a file, and
 * never when NO_COLOR is set to anything (no-color.org) or TERM is dumb.
 */
export function colorAllowed(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb'
}
