import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { closestNames, editDistance } from '../../config/did-you-mean.ts'
import { DEFAULTS, type DragonflyConfig, loadDragonflyConfig, resolveConfig } from '../../config/index.ts'
import { withPeerDefaults } from '../../core/peer/peer-options.ts'
import { tempDir } from '../helpers/cli.ts'

const FILE = '/etc/dragonfly/dragonfly.config.json'

/** The E_CONFIG a config is refused with (fails the test if it is accepted). */
function refusal(config: unknown): { message: string; problems: { path: string; message: string }[] } {
  try {
    resolveConfig(config as DragonflyConfig, FILE)
  } catch (error) {
    const { code, message, details } = error as { code: string; message: string; details?: { problems: { path: string; message: string }[] } }
    expect(code).toBe('E_CONFIG')
    expect(message).not.toMatch(/Invalid (type|key|input)|Expected .* but received/)
    return { message, problems: details?.problems ?? [] }
  }
  throw new Error(`accepted: ${JSON.stringify(config)}`)
}

describe('config schema: what a user reads when the config is wrong', () => {
  it('an unknown key at the top level is refused, and the option it belongs to is named', () => {
    expect(refusal({ supernodes: ['http://sn1:8002'] }).message).toBe(`${FILE}: supernodes: unknown option; did you mean \`peer.supernodes\` or \`supernode\`?`)
    expect(refusal({ port: 8002 }).message).toBe(`${FILE}: port: unknown option; did you mean \`supernode.port\` or \`daemon.port\`?`)
  })

  it('a typo in a section gives its key path and the close option', () => {
    expect(refusal({ peer: { concurrencyy: 4 } }).message).toBe(`${FILE}: peer.concurrencyy: unknown option; did you mean \`concurrency\`?`)
    expect(refusal({ daemon: { prot: 1 } }).message).toContain('daemon.prot: unknown option; did you mean `port`?')
    expect(refusal({ peer: { uploadslots: 2 } }).message).toContain('peer.uploadslots: unknown option; did you mean `uploadSlots`?')
    // The same option of another section comes first.
    expect(refusal({ peer: { cacheQuota: '1GB' } }).message).toContain(
      'peer.cacheQuota: unknown option; did you mean `supernode.cacheQuota` or `daemon.cacheQuota`?',
    )
  })

  it('an unknown key with nothing close lists the known ones', () => {
    expect(refusal({ xyzzy: 1 }).message).toBe(`${FILE}: xyzzy: unknown option; known at the top level: home, plugins, supernode, peer, daemon`)
    expect(refusal({ peer: { wibble: 1 } }).message).toContain('peer.wibble: unknown option; known in peer: supernodes, location, concurrency,')
  })

  it('reports every problem at once, each with its path, what it must be and what it got', () => {
    const { message, problems } = refusal({
      peer: { concurrency: 0, rateLimit: 'fast', retries: 3, concurrencyy: 2, supernodes: ['not a url'] },
      supernode: { port: 70000, cluster: 'nope' },
      daemon: { highWatermark: 2, proxyRules: ['('] },
      plugins: [{ storage: () => null }],
      extra: true,
    })
    expect(problems).toEqual([
      { path: 'plugins[0]', message: 'must be a plugin (an object with a name), like storageFs(), got { storage }' },
      { path: 'supernode.port', message: 'must be a port number from 0 to 65535, got 70000' },
      { path: 'supernode.cluster', message: 'must be a URL like redis://host:6379, or empty, got "nope"' },
      { path: 'peer.supernodes[0]', message: 'must be a URL like http://host:port, got "not a url"' },
      { path: 'peer.concurrency', message: 'must be a whole number of at least 1, got 0' },
      { path: 'peer.rateLimit', message: 'must be a size like 512KB, 20MB or 2GB, or a number of bytes, got "fast"' },
      // valibot names only the first unknown key of an object: both are here.
      { path: 'peer.retries', message: expect.stringMatching(/^unknown option; known in peer: /) },
      { path: 'peer.concurrencyy', message: 'unknown option; did you mean `concurrency`?' },
      { path: 'daemon.proxyRules[0]', message: 'must be a valid regular expression, got "("' },
      { path: 'daemon.highWatermark', message: 'must be a share from 0 to 1, like 0.9, got 2' },
      { path: 'extra', message: expect.stringMatching(/^unknown option/) },
    ])
    expect(message.split('\n')).toEqual([`${FILE}: 11 problems:`, ...problems.map((p) => `  - ${p.path}: ${p.message}`)])
  })

  it('a value of the wrong kind says what kind it must be', () => {
    expect(refusal({ peer: { backSource: 'yes', location: 3 } }).problems).toEqual([
      { path: 'peer.location', message: 'must be a string, got 3' },
      { path: 'peer.backSource', message: 'must be true or false, got "yes"' },
    ])
    expect(refusal({ peer: ['http://sn1:8002'] }).message).toBe(`${FILE}: peer: must be an object of options, got a list`)
    expect(refusal({ daemon: 3 }).message).toBe(`${FILE}: daemon: must be an object of options, got 3`)
    expect(refusal({ supernode: { port: 'x' } }).message).toBe(`${FILE}: supernode.port: must be a port number from 0 to 65535, got "x"`)
  })

  it('a loaded file is named in full, and flags are checked with it', async () => {
    const dir = await tempDir()
    await writeFile(join(dir, 'dragonfly.config.json'), '{ "peer": { "concurrencyy": 4 } }')
    const error = await loadDragonflyConfig({ cwd: dir, overrides: { supernode: { port: 70000 } } }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'E_CONFIG' })
    expect((error as Error).message).toBe(
      `${join(dir, 'dragonfly.config.json')}: 2 problems:\n  - supernode.port: must be a port number from 0 to 65535, got 70000\n  - peer.concurrencyy: unknown option; did you mean \`concurrency\`?`,
    )
    // A section the file got wrong is reported even where flags fill that section.
    const other = await tempDir()
    await writeFile(join(other, 'dragonfly.config.json'), '{ "peer": 3 }')
    await expect(loadDragonflyConfig({ cwd: other, overrides: { peer: { concurrency: 5 } } })).rejects.toMatchObject({
      code: 'E_CONFIG',
      message: `${join(other, 'dragonfly.config.json')}: peer: must be an object of options, got 3`,
    })
  })
})

describe('config schema: defaults and values', () => {
  it('fills every default, reads sizes as bytes, and flags win over the file', async () => {
    const config = resolveConfig({ peer: { rateLimit: '20MB', concurrency: 3 }, supernode: { cacheQuota: '1.5GiB' } })
    expect(config.peer).toEqual({ ...DEFAULTS.peer, concurrency: 3, rateLimit: 20 * 1024 ** 2 })
    expect(config.supernode).toEqual({ ...DEFAULTS.supernode, cacheQuota: 1.5 * 1024 ** 3 })
    expect(DEFAULTS.peer).toEqual({
      supernodes: [],
      concurrency: 8,
      uploadSlots: 6,
      pieceTimeoutMs: 30_000,
      backSource: true,
      rateLimit: 0,
      totalLimit: 0,
      supernodeRefreshMs: 30_000,
    })
    expect(DEFAULTS.supernode).toMatchObject({
      port: 8002,
      host: '0.0.0.0',
      longPollMs: 15_000,
      uploadSlots: 48,
      peerSlots: 6,
      clusterLeaseMs: 1_500,
      cluster: '',
      advertiseUrl: '',
    })
    expect(DEFAULTS.daemon).toEqual({
      port: 65001,
      host: '127.0.0.1',
      uploadPort: 65002,
      insecureRegistries: [],
      proxyRules: [],
      allowSources: [],
      denySources: [],
      cacheQuota: 0,
      highWatermark: 0.9,
      lowWatermark: 0.7,
    })
    // A default list is a new one each time: a role that pushes to it does not change the next config.
    config.peer.supernodes.push('http://x:1')
    expect(resolveConfig({}).peer.supernodes).toEqual([])

    const dir = await tempDir()
    await writeFile(join(dir, 'dragonfly.config.json'), '{ "peer": { "concurrency": 3, "rateLimit": "1MB" } }')
    const flagged = await loadDragonflyConfig({ cwd: dir, overrides: { peer: { concurrency: 5 } } })
    expect(flagged.peer).toMatchObject({ concurrency: 5, rateLimit: 1024 ** 2 })
    expect(flagged.configFile).toBe(join(dir, 'dragonfly.config.json'))
  })

  it('a peer made without options gets the same defaults as the config', () => {
    const options = withPeerDefaults({ concurrency: 2, uploadSlots: undefined })
    expect(options).toEqual({ ...DEFAULTS.peer, concurrency: 2 })
  })
})

describe('did you mean', () => {
  it('counts edits, a swap of neighbours as one', () => {
    expect(editDistance('concurrencyy', 'concurrency')).toBe(1)
    expect(editDistance('prot', 'port')).toBe(1)
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
  })

  it('keeps only close names, the closest first', () => {
    expect(closestNames('concurency', ['concurrency', 'uploadSlots'])).toEqual(['concurrency'])
    expect(closestNames('hots', ['host', 'port'])).toEqual(['host'])
    expect(closestNames('xyzzy', ['home', 'plugins', 'peer'])).toEqual([])
    expect(closestNames('BACKSOURCE', ['backSource'])).toEqual(['backSource'])
    // Two edits at most, one for a short name.
    expect(closestNames('kitten', ['sitting', 'mitten', 'bitten'])).toEqual(['mitten', 'bitten'])
    expect(closestNames('pool', ['port'])).toEqual([])
    expect(closestNames('concurrenc', ['concurrency'])).toEqual(['concurrency'])
    expect(closestNames('concurrenyy', ['concurrency'])).toEqual(['concurrency'])
    expect(closestNames('concurrenwxyz', ['concurrency'])).toEqual([])
  })
})
