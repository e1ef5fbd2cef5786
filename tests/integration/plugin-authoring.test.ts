import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadDragonflyConfig } from '../../config/index.ts'
import { createPluginSet } from '../../core/contract/plugin.ts'
import { testSource, testTransform } from '../../testing/index.ts'
import { tempDir } from '../helpers/cli.ts'
import { serveSupernode, startPeer } from '../helpers/swarm.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const cleanup: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const close of cleanup.reverse()) await close()
})

describe('a third-party plugin declared in a config file', () => {
  const configText = `
import { definePlugin } from ${JSON.stringify(join(ROOT, 'core/contract/plugin.ts'))}
import storageMemory from ${JSON.stringify(join(ROOT, 'plugins/storage-memory/index.ts'))}

const blobs = new Map([['mem://demo/blob', new Uint8Array(Array.from({ length: 700000 }, (_, i) => (i * 31) & 0xff))]])

const memSource = definePlugin(() => ({
  name: 'source-mem',
  source: {
    protocols: ['mem:'],
    async fetch(request) {
      const blob = blobs.get(request.url)
      if (!blob) return new Response('not found', { status: 404 })
      const n = blob.byteLength
      const start = request.range?.start ?? 0
      const end = Math.min(request.range?.end ?? n - 1, n - 1)
      const headers = { 'content-length': String(end - start + 1), ...(request.range ? { 'content-range': \`bytes \${start}-\${end}/\${n}\` } : {}) }
      return new Response(request.method === 'HEAD' ? null : blob.slice(start, end + 1), { status: request.range ? 206 : 200, headers })
    },
  },
}))

const xor = definePlugin((key) => ({
  name: 'xor',
  transform: {
    stage: 'custom',
    coding: 'xor',
    encode: async (data) => data.map((b) => b ^ key),
    decode: async (data) => data.map((b) => b ^ key),
  },
}))

export default { plugins: [storageMemory(), memSource(), xor(0x5a)] }
`

  it('passes testSource and testTransform, and a swarm downloads mem:// through it', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'dragonfly.config.mjs'), configText)
    const config = await loadDragonflyConfig({ configFile: join(dir, 'dragonfly.config.mjs') })
    const mem = config.plugins.find((p) => p.name === 'source-mem')!
    const xor = config.plugins.find((p) => p.name === 'xor')!
    const content = new Uint8Array(Array.from({ length: 700000 }, (_, i) => (i * 31) & 0xff))
    await testSource(mem, { url: 'mem://demo/blob', content, missingUrl: 'mem://demo/nope' })
    await testTransform(xor)

    const plugins = createPluginSet(config.plugins)
    const sn = await serveSupernode(dir, { plugins, storage: plugins.storage({ home: dir, namespace: 'cdn' }) })
    cleanup.push(() => sn.close())
    const peer = await startPeer(dir, [sn.url], { plugins, storage: plugins.storage({ home: dir, namespace: 'peer' }) })
    cleanup.push(() => peer.close())
    const result = await peer.download({ url: 'mem://demo/blob' })
    expect(Buffer.from(await peer.options.storage.readAt(result.storageKey, 0, content.byteLength)).equals(content)).toBe(true)
    const piece = await fetch(`${sn.url}/pieces/${result.taskId}/0`, { headers: { 'x-dragonfly-accept-coding': 'xor' } })
    expect(piece.headers.get('x-dragonfly-coding')).toBe('xor')
    expect(new Uint8Array(await piece.arrayBuffer())[1]).toBe(31 ^ 0x5a)
  })

  it('bad plugin configs fail at load with E_PLUGIN naming the file and the plugin', async () => {
    const dir = await tempDir()
    const encryptPath = JSON.stringify(join(ROOT, 'plugins/encrypt/index.ts'))
    await writeFile(join(dir, 'no-secret.config.mjs'), `import encrypt from ${encryptPath}\nexport default { plugins: [encrypt({})] }\n`)
    await writeFile(join(dir, 'typo.config.mjs'), `export default { plugins: [{ name: 'weird', transfrom: {} }] }\n`)
    const compressPath = JSON.stringify(join(ROOT, 'plugins/compress/index.ts'))
    await writeFile(join(dir, 'option.config.mjs'), `import compress from ${compressPath}\nexport default { plugins: [compress({ minSavings: 0.1 })] }\n`)
    await writeFile(
      join(dir, 'stage.config.mjs'),
      `export default { plugins: [{ name: 'odd', transform: { stage: 'zip', coding: 'z', encode() {}, decode() {} } }] }\n`,
    )
    for (const [file, pattern] of [
      ['no-secret.config.mjs', /no-secret\.config\.mjs: encrypt: option `secret` is required/],
      ['typo.config.mjs', /typo\.config\.mjs: plugin weird: transfrom is not a plugin slot/],
      ['option.config.mjs', /option\.config\.mjs: compress: unknown option `minSavings` \(did you mean `minSaving`\?\)/],
      ['stage.config.mjs', /stage\.config\.mjs: plugin odd: transform\.stage must be compress, custom or encrypt/],
    ] as const) {
      const error = await loadDragonflyConfig({ configFile: join(dir, file) }).catch((e) => e)
      expect(error.code, String(error)).toBe('E_PLUGIN')
      expect(error.message).toMatch(pattern)
    }
  })
})
