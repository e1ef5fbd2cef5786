import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { PeerOptionsSchema } from '../../core/peer/peer-options.ts'
import { parseBody, RegisterBody } from '../../core/protocol/api-schema.ts'

const register = (hostname: unknown) => ({ url: 'http://origin/f', peer: { address: 'http://10.0.0.5:4000', hostname } })

/** A peer's host name reaches people (dashboard, `status`): the supernode takes a name and nothing else. */
describe('the host name a peer registers with', () => {
  it.each(['build-7', 'node1.rack3.example.com', 'WIN_PC-01', 'a', 'x'.repeat(253)])('accepts %j', (name) => {
    expect(parseBody(RegisterBody, register(name)).peer.hostname).toBe(name)
  })

  it.each(['', 'two words', 'evil\nline', 'x\u001b[31m', '<img src=x onerror=alert(1)>', '-lead', 'trail.', 'x'.repeat(254), 42])('refuses %j', (name) => {
    expect(() => parseBody(RegisterBody, register(name))).toThrow(/hostname/)
  })

  it('is optional: older peers register without one', () => {
    expect(parseBody(RegisterBody, { url: 'http://origin/f', peer: { address: 'http://10.0.0.5:4000' } }).peer.hostname).toBeUndefined()
  })

  it('a configured peer.hostname is checked the same way', () => {
    expect(v.safeParse(PeerOptionsSchema, { hostname: 'build-7.lab' }).success).toBe(true)
    expect(v.safeParse(PeerOptionsSchema, { hostname: 'two words' }).success).toBe(false)
  })
})
