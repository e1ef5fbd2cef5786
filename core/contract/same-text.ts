/**
 * Compares two strings in time independent of where they first differ (the
 * length is not hidden): for secrets a request presents, such as a bearer
 * token or a peer's secret. Plugins that check credentials use it too.
 */
export function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a)
  const y = new TextEncoder().encode(b)
  let diff = x.length ^ y.length
  for (let i = 0; i < y.length; i++) diff |= (x[i] ?? 0) ^ y[i]!
  return diff === 0
}
