import { defineBuildConfig } from 'unbuild'

export default defineBuildConfig({
  entries: [
    { input: 'core/index', name: 'index' },
    { input: 'config/index', name: 'config' },
    { input: 'runtime/index', name: 'runtime' },
    { input: 'cli/index', name: 'cli' },
    { input: 'plugins/storage-fs/index', name: 'plugins/storage-fs' },
    { input: 'plugins/source-http/index', name: 'plugins/source-http' },
    { input: 'plugins/source-file/index', name: 'plugins/source-file' },
    { input: 'plugins/storage-memory/index', name: 'plugins/storage-memory' },
    { input: 'plugins/compress/index', name: 'plugins/compress' },
    { input: 'plugins/encrypt/index', name: 'plugins/encrypt' },
    { input: 'plugins/auth-header/index', name: 'plugins/auth-header' },
    { input: 'plugins/cluster-redis/index', name: 'plugins/cluster-redis' },
    { input: 'testing/index', name: 'testing' },
  ],
  declaration: true,
  clean: true,
  // ofetch's Node build imports node-fetch-native, whose Node entry evaluates a bundled node-fetch and
  // web-streams polyfill (112 KB) at start though every runtime here has fetch. ofetch is bundled
  // with node-fetch-native's native build instead: it re-exports globalThis.fetch.
  alias: { 'node-fetch-native': 'node-fetch-native/native' },
  hooks: {
    'build:before'(ctx) {
      ctx.options.externals = ctx.options.externals.filter((id) => id !== 'ofetch')
    },
  },
  rollup: { emitCJS: false, inlineDependencies: ['ofetch', 'node-fetch-native', 'destr', 'ufo'], esbuild: { target: 'es2022' } },
  failOnWarn: false,
})
