/**
 * `dragonfly/testing`: conformance checks for plugin authors, the ones the
 * built-ins pass, one per capability. Each runs on its own and throws a
 * `PluginConformanceError` listing every failed check, so it works under any
 * test runner: `it('passes', () => testTransform(myPlugin()))`.
 */
export { PluginConformanceError } from './checks.ts'
export { testTransform, type TestTransformOptions } from './transform.ts'
export { testStorage, type TestStorageOptions } from './storage.ts'
export { testSource, type TestSourceOptions } from './source.ts'
export { testClusterStore, type TestClusterStoreOptions } from './cluster-store.ts'
export { testHooks, type TestHooksOptions } from './hooks.ts'
