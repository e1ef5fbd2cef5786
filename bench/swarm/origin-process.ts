/**
 * The origin as its own process, for a host namespace of the netns mode
 * (the bench process itself cannot listen inside a namespace):
 *
 *   node --import jiti/register bench/swarm/origin-process.ts FILE HOST PORT
 *
 * Prints `listening <url>` once it serves, and on SIGTERM one JSON line
 * `{"bytes":…,"requests":…}` (body bytes it sent) before it exits.
 */
import { startBenchOrigin } from '../lib/origin.ts'

const [file, host, port] = process.argv.slice(2)
if (!file || !host || !port) throw new Error('usage: origin-process.ts FILE HOST PORT')
const origin = await startBenchOrigin(file, 0, { host, port: Number(port) })
console.log(`listening ${origin.url}`)
process.once('SIGTERM', () => {
  console.log(JSON.stringify({ bytes: origin.bytes, requests: origin.requests }))
  void origin.close().then(() => process.exit(0))
})
