import { defineBuildConfig } from 'unbuild'

/**
 * Dependencies bundled into dist (tree-shaken, a handful of chunks). Every `get` paid for loading them
 * as packages: ~55 modules resolved through node_modules one by one, valibot's single 206 KB module
 * compiled whole, hono's and consola's many files. Bundled, a `get` from a warm supernode starts in
 * ~177 ms of CPU instead of ~218 (median of 10, `perf stat`), and 32 peers starting at once on two cores
 * reach their first piece sooner. All of them are build dependencies, none is a dependency of the package:
 * installing it installs nothing that is already inside.
 * ofetch is bundled with node-fetch-native's native build: its Node entry evaluates a bundled node-fetch
 * and web-streams polyfill (112 KB) at start though every runtime here has fetch.
 */
export const BUNDLED = ['ofetch', 'node-fetch-native', 'destr', 'ufo', 'valibot', 'hono', '@hono/node-server', 'consola', 'citty', 'scule', 'defu']

const TYPES_INLINED = ['valibot', 'hono']

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
    { input: 'plugins/storage-unstorage/index', name: 'plugins/storage-unstorage' },
    { input: 'plugins/compress/index', name: 'plugins/compress' },
    { input: 'plugins/encrypt/index', name: 'plugins/encrypt' },
    { input: 'plugins/auth-header/index', name: 'plugins/auth-header' },
    { input: 'plugins/cluster-redis/index', name: 'plugins/cluster-redis' },
    { input: 'testing/index', name: 'testing' },
  ],
  declaration: true,
  clean: true,
  alias: { 'node-fetch-native': 'node-fetch-native/native' },
  hooks: {
    'build:before'(ctx) {
      ctx.options.externals = ctx.options.externals.filter((id) => typeof id !== 'string' || !isBundled(id))
    },
    // The declarations use hono's types (the supernode app) and valibot's (the config schema): they are
    // inlined like the code, so a TypeScript user gets them without installing either.
    'rollup:dts:options'(_ctx, options) {
      const bundle = options.external
      options.external = (id, importer, resolved) =>
        (isBundled(id) && !TYPES_INLINED.some((name) => id === name || id.startsWith(`${name}/`))) ||
        (typeof bundle === 'function' ? bundle(id, importer, resolved) : false)
    },
  },
  // The "node" condition: without it consola resolved to its browser build, whose reporter logs through
  // console.log, so every log line (and `get -o -`'s success line) went to stdout.
  rollup: { emitCJS: false, inlineDependencies: BUNDLED, esbuild: { target: 'es2022' }, resolve: { exportConditions: ['node'] } },
  failOnWarn: false,
})

function isBundled(id: string): boolean {
  return BUNDLED.some((name) => id === name || id.startsWith(`${name}/`))
}
