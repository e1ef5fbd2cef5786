import pkg from '../package.json' with { type: 'json' }
import { consola } from './logger.ts'
import { configureLogging, resolveLogFormat } from './logging.ts'
import { reportError } from './report-error.ts'
import { runCli } from './run-cli.ts'

// consola lowers its level when it detects CI or a test runner; a CLI's output must not depend on that.
consola.level = Number(process.env.DRAGONFLY_LOG_LEVEL ?? 3)

const commands = {
  get: () => import('./commands/get.ts').then((m) => m.default),
  supernode: () => import('./commands/supernode.ts').then((m) => m.default),
  daemon: () => import('./commands/daemon.ts').then((m) => m.default),
  preheat: () => import('./commands/preheat.ts').then((m) => m.default),
  status: () => import('./commands/status.ts').then((m) => m.default),
  demo: () => import('./commands/demo.ts').then((m) => m.default),
}

try {
  const { format, rest } = resolveLogFormat(process.argv.slice(2), process.env)
  configureLogging(format)
  await runCli({ name: 'dragonfly', version: pkg.version, description: 'P2P file and container-image distribution' }, commands, rest)
} catch (error) {
  reportError(error, process.argv.includes('--json'))
}
