import { execFileSync } from 'node:child_process'

/** Process tests run the built CLI (`bin/dragonfly.mjs` → `dist/`), so build it from the current sources once. */
export default function setup(): void {
  if (process.env.DRAGONFLY_SKIP_BUILD === '1') return
  execFileSync('npx', ['unbuild'], { stdio: 'ignore' })
}
