import { readdir, readFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import type { ArgsDef, Resolvable } from 'citty'
import { parseINI, parseTOML, parseYAML } from 'confbox'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '..')
const DEPLOY = join(ROOT, 'deploy')

/** The CLI's own command definitions: a flag is valid when the command declares it. */
const COMMANDS: Record<string, () => Promise<{ default: { args?: Resolvable<ArgsDef> } }>> = {
  get: () => import('../cli/commands/get.ts'),
  supernode: () => import('../cli/commands/supernode.ts'),
  daemon: () => import('../cli/commands/daemon.ts'),
  preheat: () => import('../cli/commands/preheat.ts'),
  status: () => import('../cli/commands/status.ts'),
  demo: () => import('../cli/commands/demo.ts'),
}

/**
 * Problems with `dragonfly <command> <flags…>` (argv after the executable): an
 * unknown command, a flag the command does not declare, a flag missing its value.
 */
async function argvProblems(argv: string[]): Promise<string[]> {
  const [command, ...rest] = argv
  const load = command ? COMMANDS[command] : undefined
  if (!load) return [`unknown command ${JSON.stringify(command)}`]
  const def = (await load()).default
  const args = (typeof def.args === 'function' ? await def.args() : await def.args) ?? {}
  const flags = new Map<string, string>()
  for (const [name, arg] of Object.entries(args)) {
    if (arg.type === 'positional') continue
    const type = arg.type === 'boolean' ? 'boolean' : 'string'
    flags.set(name, type)
    if (type === 'boolean') flags.set(`no-${name}`, 'boolean')
    for (const alias of ['alias' in arg ? (arg.alias ?? []) : []].flat()) flags.set(alias, type)
  }
  const problems: string[] = []
  for (let i = 0; i < rest.length; i++) {
    const token = rest[i]!
    const m = /^--?([^=]+)(=.*)?$/.exec(token)
    if (!m) continue
    const type = flags.get(m[1]!)
    if (!type) problems.push(`${command}: unknown flag ${token.replace(/=.*/, '')}`)
    else if (type === 'string' && !m[2]) {
      if (rest[i + 1] === undefined || rest[i + 1]!.startsWith('-')) problems.push(`${command}: ${token} has no value`)
      i++
    }
  }
  return problems
}

/** A systemd command line as systemd splits it: whitespace, with "double" and 'single' quotes. */
function splitCommandLine(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!)
}

/** DRAGONFLY_* variables the sources read: a unit or compose file may set only these. */
async function knownEnvironment(): Promise<Set<string>> {
  const names = new Set<string>()
  for (const dir of ['cli', 'config', 'runtime']) {
    for (const file of await readdir(join(ROOT, dir), { recursive: true })) {
      if (!file.endsWith('.ts')) continue
      for (const m of (await readFile(join(ROOT, dir, file), 'utf8')).matchAll(/DRAGONFLY_[A-Z_]+/g)) names.add(m[0])
    }
  }
  return names
}

describe('deploy/: the deployment examples parse and run flags the CLI has', () => {
  it('the flag check itself refuses a misspelt flag, a missing value and an unknown command (positive control)', async () => {
    expect(await argvProblems(['daemon', '--port', '65001', '--supernode', 'http://sn:8002'])).toEqual([])
    expect(await argvProblems(['daemon', '--registry-mirrors', 'https://r'])).toEqual(['daemon: unknown flag --registry-mirrors'])
    expect(await argvProblems(['supernode', '--port'])).toEqual(['supernode: --port has no value'])
    expect(await argvProblems(['seed'])).toEqual(['unknown command "seed"'])
  })

  it('each systemd unit is INI with [Unit], [Service] and [Install]; ExecStart runs `dragonfly` with flags that exist', async () => {
    const env = await knownEnvironment()
    const units = (await readdir(join(DEPLOY, 'systemd'))).filter((f) => f.endsWith('.service'))
    expect(units.sort()).toEqual(['dragonfly-daemon.service', 'dragonfly-supernode.service'])
    for (const unit of units) {
      // systemd joins lines ending in a backslash; the INI parser does not.
      const text = (await readFile(join(DEPLOY, 'systemd', unit), 'utf8')).replace(/\\\n/g, ' ')
      const ini = parseINI<Record<string, Record<string, string>>>(text)
      expect(Object.keys(ini), unit).toEqual(['Unit', 'Service', 'Install'])
      expect(ini.Install!.WantedBy, unit).toBe('multi-user.target')
      const [exe, ...argv] = splitCommandLine(ini.Service!.ExecStart!)
      expect(basename(exe!), unit).toBe('dragonfly')
      expect(exe!.startsWith('/'), `${unit}: systemd wants an absolute path`).toBe(true)
      expect(argv[0], unit).toBe(unit.replace(/^dragonfly-|\.service$/g, ''))
      expect(await argvProblems(argv), unit).toEqual([])
      for (const assignment of [ini.Service!.Environment ?? ''].flat().join(' ').split(/\s+/).filter(Boolean)) {
        expect(env.has(assignment.split('=')[0]!), `${unit}: ${assignment}`).toBe(true)
      }
    }
  })

  it('compose.yaml: redis, a supernode on it and a daemon on the supernode, with ports and flags that agree', async () => {
    const compose = parseYAML<{
      services: Record<string, { command?: string[]; ports?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown> }>
    }>(await readFile(join(DEPLOY, 'compose.yaml'), 'utf8'))
    const { redis, supernode, daemon } = compose.services
    expect(redis && supernode && daemon).toBeTruthy()
    const env = await knownEnvironment()
    for (const [name, service] of Object.entries({ supernode, daemon })) {
      expect(await argvProblems(service!.command!), name).toEqual([])
      for (const key of Object.keys(service!.environment ?? {})) expect(env.has(key), `${name}: ${key}`).toBe(true)
    }
    const flag = (argv: string[], name: string) => argv[argv.indexOf(name) + 1]
    expect(new URL(flag(supernode!.command!, '--cluster')!).host).toBe('redis:6379')
    const snPort = flag(supernode!.command!, '--port')
    expect(flag(daemon!.command!, '--supernode')).toBe(`http://supernode:${snPort}`)
    expect(supernode!.ports).toContain(`${snPort}:${snPort}`)
    // The daemon's local API is published on the host's loopback only.
    const apiPort = flag(daemon!.command!, '--port')
    expect(daemon!.ports).toContain(`127.0.0.1:${apiPort}:${apiPort}`)
    expect(Object.keys(daemon!.depends_on ?? {})).toContain('supernode')
    expect(Object.keys(supernode!.depends_on ?? {})).toContain('redis')
  })

  it("docs/daemon.md's client configs parse (hosts.toml, registries.conf, daemon.json, the DaemonSet) and the DaemonSet runs flags that exist", async () => {
    const markdown = await readFile(join(ROOT, 'docs/daemon.md'), 'utf8')
    const blocks = [...markdown.matchAll(/^```(toml|json|yaml)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }))
    const toml = blocks.filter((b) => b.lang === 'toml').map((b) => parseTOML<Record<string, unknown>>(b.code))
    const hosts = toml.find((t) => 'server' in t) as { server: string; host: Record<string, { capabilities: string[] }> }
    expect(Object.values(hosts.host)[0]!.capabilities).toEqual(['pull', 'resolve'])
    expect(toml.some((t) => Array.isArray(t.registry))).toBe(true)
    const json = blocks.filter((b) => b.lang === 'json').map((b) => JSON.parse(b.code) as Record<string, unknown>)
    expect(json.some((j) => Array.isArray(j['registry-mirrors']))).toBe(true)
    const yaml = blocks.filter((b) => b.lang === 'yaml').map((b) => parseYAML<{ kind?: string; spec?: unknown }>(b.code))
    const daemonSet = yaml.find((y) => y.kind === 'DaemonSet') as { spec: { template: { spec: { containers: { args: string[] }[] } } } }
    expect(await argvProblems(daemonSet.spec.template.spec.containers[0]!.args)).toEqual([])
  })
})
