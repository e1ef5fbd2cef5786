/** Least-squares slope of y over x; NaN with fewer than two distinct x. */
export function linearSlope(points: { x: number; y: number }[]): number {
  const n = points.length
  if (n < 2) return NaN
  const mx = points.reduce((s, p) => s + p.x, 0) / n
  const my = points.reduce((s, p) => s + p.y, 0) / n
  let sxy = 0
  let sxx = 0
  for (const p of points) {
    sxy += (p.x - mx) * (p.y - my)
    sxx += (p.x - mx) ** 2
  }
  return sxx === 0 ? NaN : sxy / sxx
}

/** Slope over the second half of the run (x at or past half the largest x): growth once warm, in y per x. */
export function secondHalfSlope(points: { x: number; y: number }[]): number {
  const last = Math.max(...points.map((p) => p.x))
  return linearSlope(points.filter((p) => p.x >= last / 2))
}
