import { defineBuildConfig } from 'unbuild'

export default defineBuildConfig({
  entries: [
    { input: 'core/index', name: 'index' },
    { input: 'config/index', name: 'config' },
    { input: 'runtime/index', name: 'runtime' },
    { input: 'cli/index', name: 'cli' },
    { input: 'plugins/storage-fs/index', name: 'plugins/storage-fs' },
    { input: 'plugins/source-http/index', name: 'plugins/source-http' },
  ],
  declaration: true,
  clean: true,
  rollup: { emitCJS: false, inlineDependencies: false, esbuild: { target: 'es2022' } },
  failOnWarn: false,
})
