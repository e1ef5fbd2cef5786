/**
 * npm run bench:swarm -- [--mode netns|process] ...
 *
 * netns (default): real hosts in network namespaces, links shaped by the
 * kernel, dragonfly vs aria2 vs curl (netns-mode.ts). process: the earlier
 * bench, peers on this host limited by their own token buckets (process-mode.ts).
 */
export {}

const args = process.argv.slice(2)
const at = args.findIndex((a) => a === '--mode' || a.startsWith('--mode='))
const mode = at < 0 ? 'netns' : args[at]!.includes('=') ? args[at]!.split('=')[1] : args[at + 1]
try {
  if (mode === 'netns') process.exitCode = await (await import('./netns-mode.ts')).netnsMode(args)
  else if (mode === 'process') process.exitCode = await (await import('./process-mode.ts')).processMode(args)
  else throw new Error(`--mode takes netns or process; got ${mode}`)
} catch (error) {
  console.error(`bench:swarm failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
