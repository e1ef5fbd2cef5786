import { expect, it } from 'vitest'
import { resolveLogFormat } from '../../cli/logging.ts'

it('--log-format is taken out of argv wherever it stands; the env var is the fallback', () => {
  expect(resolveLogFormat(['get', '--log-format', 'json', 'http://x/f', '-o', 'f'], {})).toEqual({ format: 'json', rest: ['get', 'http://x/f', '-o', 'f'] })
  expect(resolveLogFormat(['supernode', '--log-format=json'], {})).toEqual({ format: 'json', rest: ['supernode'] })
  expect(resolveLogFormat(['status', '--log-format', 'pretty'], { DRAGONFLY_LOG_FORMAT: 'json' })).toEqual({ format: 'pretty', rest: ['status'] })
  expect(resolveLogFormat(['status'], { DRAGONFLY_LOG_FORMAT: 'json' })).toEqual({ format: 'json', rest: ['status'] })
  expect(resolveLogFormat(['status'], {})).toEqual({ format: 'pretty', rest: ['status'] })
})
