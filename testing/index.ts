/**
 * `dragonfly/testing`: conformance checks for plugin authors, the ones the
 * built-ins pass, one per capability. Each runs on its own and throws a
 * `PluginConformanceError` listing every failed check, so it works under any
 * test runner: `it('passes', () => testTransform(myPlugin()))`.
 */
export { PluginConformanceError } from './checks.ts'
export { type TestClusterStoreOptions, testClusterStore } from './cluster-store.ts'
export { type TestHooksOptions, testHooks } from './hooks.ts'
export { type TestSourceOptions, testSource } from './source.ts'
export { type TestStorageOptions, testStorage } from './storage.ts'
export { type TestTransformOptions, testTransform } from './transform.ts'
