import { defineCommand, runMain } from 'citty'
import pkg from '../package.json' with { type: 'json' }

const main = defineCommand({
  meta: { name: 'dragonfly', version: pkg.version, description: 'P2P file and container-image distribution' },
  subCommands: {
    get: () => import('./commands/get.ts').then((m) => m.default),
    supernode: () => import('./commands/supernode.ts').then((m) => m.default),
    demo: () => import('./commands/demo.ts').then((m) => m.default),
  },
})

runMain(main)
