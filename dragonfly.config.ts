import { defineConfig } from 'dragonfly/config'
import sourceHttp from 'dragonfly/plugins/source-http'
import storageFs from 'dragonfly/plugins/storage-fs'

// Example deployment config, read by `dragonfly supernode`, `get` and `demo`
// (`--config FILE` to point at another one). Flags win over this file.
// More plugins in docs/plugins.md: compress(), encrypt({ secret }), authHeader({ token, sources }),
// sourceFile(), storageMemory(); every node of a cluster loads the same transforms and token.
export default defineConfig({
  plugins: [storageFs(), sourceHttp({ headersTimeoutMs: 30_000 })],
  supernode: { port: 8002, longPollMs: 15_000 },
  peer: { concurrency: 8, uploadSlots: 6 },
})
