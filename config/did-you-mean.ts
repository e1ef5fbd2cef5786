/**
 * The known names closest to a mistyped one: case ignored, a swap of two
 * neighbouring letters counts as one edit, and at most two edits (one for
 * names of up to five letters) so that a far-fetched guess is left out.
 */
export function closestNames(name: string, known: readonly string[]): string[] {
  const limit = Math.max(1, Math.min(2, Math.floor(name.length / 3)))
  let best = limit
  let closest: string[] = []
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance > best) continue
    if (distance < best || closest.length === 0) {
      best = distance
      closest = [candidate]
    } else if (distance === best) closest.push(candidate)
  }
  return closest
}

/** Edits (insert, delete, replace, swap of neighbours) that turn `a` into `b`: Levenshtein plus transpositions. */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: distance between the first i letters of a and the first j of b.
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i]!
      const above = rows[i - 1]!
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1)
    }
  }
  return rows[a.length]![b.length]!
}
