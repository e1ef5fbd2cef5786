import { checkPlugin, type DragonflyPlugin, type PluginHooks } from '../core/contract/plugin.ts'
import { isDragonflyError } from '../core/errors.ts'
import { assert, type Check, runChecks, slotOf } from './checks.ts'

export interface TestHooksOptions {
  /** `sourceHeaders`: a source URL, the headers the hook must add to it, and optionally a URL it must add none of them to. */
  source?: { url: string; adds: Record<string, string>; unmatchedUrl?: string }
  /** `outgoingHeaders`: a supernode or peer URL and the headers the hook must add toward it. */
  outgoing?: { url: string; adds: Record<string, string> }
  /** `checkRequest`: requests it must refuse. @default one request for a piece, with no headers at all */
  refuses?: (() => Request)[]
  /** `checkRequest`: requests it must let through, besides one carrying this plugin's `outgoingHeaders`. */
  accepts?: (() => Request)[]
}

/** Any node's piece route: every request but the open probes goes through `checkRequest`. */
const NODE_URL = 'http://127.0.0.1:65000/pieces/0000/0'

/**
 * The PluginHooks contract, as core calls the hooks: headers are plain
 * string records and the caller's are left untouched; `checkRequest` refuses
 * with a DragonflyError of a 4xx code (anything else becomes a 500), lets
 * through what this node itself sends (`outgoingHeaders`), and never reads
 * the body, which the route reads after it. Requests are given as functions,
 * so each check gets a fresh one.
 */
export function testHooks(input: DragonflyPlugin | PluginHooks, options: TestHooksOptions = {}): Promise<string[]> {
  const hooks = slotOf<PluginHooks>(input, 'hooks')
  const headerRecord = (value: unknown, what: string): Record<string, string> => {
    if (value === undefined) return {}
    assert(value && typeof value === 'object' && !Array.isArray(value), `${what} returned ${typeof value}, not a record of headers or nothing`)
    for (const [k, v] of Object.entries(value)) assert(typeof v === 'string', `${what} returned header ${k} as ${typeof v}, not a string`)
    return value as Record<string, string>
  }
  const lower = (record: Record<string, string>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]))
  const includes = (got: Record<string, string>, wanted: Record<string, string>, what: string) => {
    const have = lower(got)
    for (const [k, v] of Object.entries(lower(wanted)))
      assert(have[k] === v, `${what}: header ${k} is ${JSON.stringify(have[k])}, expected ${JSON.stringify(v)}`)
  }

  const checks: Check[] = [['offers only known hooks, each a function', () => checkPlugin({ name: 'hooks under test', hooks })]]
  for (const [given, hook] of [
    ['source', 'sourceHeaders'],
    ['outgoing', 'outgoingHeaders'],
    ['refuses', 'checkRequest'],
    ['accepts', 'checkRequest'],
  ] as const) {
    if (options[given] && !hooks[hook]) checks.push([`has the ${hook} hook that options.${given} describes`, () => assert(false, `no ${hook} hook`)])
  }

  const { sourceHeaders, outgoingHeaders, checkRequest } = hooks
  if (sourceHeaders) {
    checks.push([
      "sourceHeaders: returns string headers (or nothing) and leaves the request's headers untouched",
      () => {
        const url = options.source?.url ?? 'https://example.com/blob'
        const given = { 'x-user': 'kept', accept: '*/*' }
        const copy = JSON.stringify(given)
        headerRecord(sourceHeaders.call(hooks, url, given), 'sourceHeaders')
        assert(JSON.stringify(given) === copy, `sourceHeaders changed the headers it was given: ${JSON.stringify(given)}`)
      },
    ])
  }
  if (sourceHeaders && options.source) {
    const { url, adds, unmatchedUrl } = options.source
    checks.push([
      `sourceHeaders: adds ${Object.keys(adds).join(', ')} toward ${url}${unmatchedUrl ? ', and none of them elsewhere' : ''}`,
      () => {
        includes(headerRecord(sourceHeaders.call(hooks, url, {}), 'sourceHeaders'), adds, url)
        if (!unmatchedUrl) return
        const other = lower(headerRecord(sourceHeaders.call(hooks, unmatchedUrl, {}), 'sourceHeaders'))
        for (const k of Object.keys(lower(adds))) assert(!(k in other), `header ${k} also sent toward ${unmatchedUrl}`)
      },
    ])
  }
  if (outgoingHeaders) {
    const url = options.outgoing?.url ?? NODE_URL
    checks.push([
      `outgoingHeaders: returns string headers (or nothing)${options.outgoing ? `, adding ${Object.keys(options.outgoing.adds).join(', ')}` : ''}`,
      () => {
        const got = headerRecord(outgoingHeaders.call(hooks, url), 'outgoingHeaders')
        if (options.outgoing) includes(got, options.outgoing.adds, url)
      },
    ])
  }
  if (checkRequest) {
    const check = (request: Request) => settle(Promise.resolve().then(() => checkRequest.call(hooks, request)))
    const refused = options.refuses ?? [() => new Request(NODE_URL)]
    checks.push([
      'checkRequest: refuses with a DragonflyError of a 4xx code',
      async () => {
        for (const [i, make] of refused.entries()) {
          const outcome = await check(make())
          assert(outcome !== 'passed', `request ${i} (${describe(make())}) was let through`)
          assert(outcome !== 'hung', `checkRequest did not settle within 5 s for request ${i}`)
          const { error } = outcome
          assert(
            isDragonflyError(error),
            `refused request ${i} with ${String(error)}, not a DragonflyError: the server would answer 500 (throw createError('E_UNAUTHORIZED', ...))`,
          )
          assert(error.status >= 400 && error.status < 500, `refused request ${i} with ${error.code} (HTTP ${error.status}), not a 4xx code`)
        }
      },
    ])
    const accepted = [...(options.accepts ?? [])]
    if (outgoingHeaders) {
      const url = options.outgoing?.url ?? NODE_URL
      accepted.push(
        () =>
          new Request(url, { method: 'POST', headers: headerRecord(outgoingHeaders.call(hooks, url), 'outgoingHeaders'), body: '{"url":"http://origin/f"}' }),
      )
    }
    checks.push([
      "checkRequest: lets through requests it should (this node's own, with outgoingHeaders), leaving the body unread",
      async () => {
        assert(accepted.length > 0, 'nothing to let through: give options.accepts, requests checkRequest must accept')
        for (const [i, make] of accepted.entries()) {
          const request = make()
          const outcome = await check(request)
          assert(outcome !== 'hung', `checkRequest did not settle within 5 s for request ${i}`)
          if (outcome !== 'passed') throw new Error(`request ${i} (${describe(request)}) was refused: ${(outcome.error as Error)?.message ?? outcome.error}`)
          assert(!request.bodyUsed, `checkRequest read the body of request ${i}; the route reads it afterwards`)
        }
      },
    ])
  }
  return runChecks('hooks', checks)
}

async function settle(run: Promise<unknown>): Promise<'passed' | 'hung' | { error: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), 5_000)))
  try {
    return await Promise.race([
      run.then(
        () => 'passed' as const,
        (error: unknown) => ({ error }),
      ),
      hung,
    ])
  } finally {
    clearTimeout(timer)
  }
}

function describe(request: Request): string {
  const headers = [...request.headers.keys()]
  return `${request.method} ${request.url}${headers.length ? ` with ${headers.join(', ')}` : ' without headers'}`
}
