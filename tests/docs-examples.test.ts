import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const ROOT = resolve(import.meta.dirname, '..')

/**
 * The package's import names, mapped to the sources: what a user's editor sees
 * through `exports` and dist/*.d.mts, without depending on a fresh build.
 */
const PATHS: Record<string, string[]> = {
  dragonfly: [join(ROOT, 'core/index.ts')],
  'dragonfly/config': [join(ROOT, 'config/index.ts')],
  'dragonfly/runtime': [join(ROOT, 'runtime/index.ts')],
  'dragonfly/testing': [join(ROOT, 'testing/index.ts')],
  'dragonfly/plugins/*': [join(ROOT, 'plugins/*/index.ts')],
}

interface Block {
  file: string
  line: number
  code: string
}

/** The ```ts blocks of a Markdown file; ```ts name.ts gives the file name another block can import it by. */
function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = []
  const re = /^```ts(?:[ \t]+(\S+))?[ \t]*\n([\s\S]*?)^```[ \t]*$/gm
  for (const m of markdown.matchAll(re)) {
    const line = markdown.slice(0, m.index).split('\n').length + 1
    blocks.push({ file: m[1] ?? `block-${line}.ts`, line, code: m[2]! })
  }
  return blocks
}

/** Type-checks `blocks` as files of one project inside the repository (so node_modules resolves); diagnostics as `file:line message`. */
async function typeCheck(blocks: Block[]): Promise<string[]> {
  const dir = await mkdtemp(join(ROOT, '.docs-examples-'))
  try {
    for (const block of blocks) await writeFile(join(dir, block.file), block.code)
    const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })
    const options: ts.CompilerOptions = { ...config!.options, noEmit: true, paths: PATHS }
    const program = ts.createProgram(
      blocks.map((b) => join(dir, b.file)),
      options,
    )
    return ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file ? `${d.file.fileName.replace(`${dir}/`, '')}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}` : 'project'
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('docs examples type-check as written', () => {
  it('docs/plugins.md: the config, the xor plugin and its tests', async () => {
    const blocks = tsBlocks(await readFile(join(ROOT, 'docs/plugins.md'), 'utf8'))
    expect(blocks.map((b) => b.file)).toEqual(expect.arrayContaining(['xor.ts', 'xor.test.ts']))
    expect(blocks.length).toBeGreaterThanOrEqual(3)
    const where = blocks.map((b) => `${b.file} is the block at docs/plugins.md:${b.line}`).join('\n')
    expect(await typeCheck(blocks), where).toEqual([])
  })

  it('the check fails an example that does not compile', async () => {
    const broken = "import compress from 'dragonfly/plugins/compress'\nexport default compress({ minSavings: 0.1 })\n"
    const diagnostics = await typeCheck(tsBlocks(`text\n\`\`\`ts broken.ts\n${broken}\`\`\`\n`))
    expect(diagnostics.join('\n')).toMatch(/^broken\.ts:2 .*'minSavings' does not exist/m)
  })
})
