import { describe, expect, it } from 'vitest'
import { peerAddress } from '../../core/supernode/peer-address.ts'
import { CapabilityGate, createTaskKey } from '../../core/transfer/capability.ts'

const TASK = 'a'.repeat(64)

describe('capabilities', () => {
  it('accepts what the task key issued until it expires, and nothing forged, foreign or malformed', async () => {
    const gate = new CapabilityGate(TASK, createTaskKey())
    const now = Date.now()
    const token = await gate.issue('peer-1', now, 60_000)
    expect(await gate.verify(token, now)).toBe(true)
    // Cached verdicts still expire.
    expect(await gate.verify(token, now + 61_000)).toBe(false)
    const [holder, expiry, mac] = token.split('.') as [string, string, string]
    expect(await gate.verify(`peer-2.${expiry}.${mac}`, now)).toBe(false)
    expect(await gate.verify(`${holder}.${Number(expiry) + 1000}.${mac}`, now)).toBe(false)
    expect(await gate.verify(await new CapabilityGate(TASK, createTaskKey()).issue('peer-1', now), now)).toBe(false)
    expect(await gate.verify(await new CapabilityGate('b'.repeat(64), gate.key).issue('peer-1', now), now)).toBe(false)
    for (const bad of [undefined, '', 'x', `${holder}.${expiry}`, `${holder}.${expiry}.${mac}.x`, `../x.${expiry}.${mac}`])
      expect(await gate.verify(bad, now)).toBe(false)
    await expect(gate.check(undefined)).rejects.toMatchObject({ code: 'E_FORBIDDEN' })
  })

  it('a gate on the same key checks what another issued (a peer, another supernode of the cluster)', async () => {
    const key = createTaskKey()
    const token = await new CapabilityGate(TASK, key).current('peer-1')
    expect(await new CapabilityGate(TASK, key).verify(token)).toBe(true)
  })

  it('refuses a key that is not 64 hex characters', () => {
    expect(() => new CapabilityGate(TASK, 'nope')).toThrow(/64 lower-case hex/)
  })
})

describe('peer addresses', () => {
  it("takes the connection's host and keeps the advertised scheme and port, unless advertised addresses are trusted", () => {
    expect(peerAddress('http://victim.example:4711', '127.0.0.1', false)).toBe('http://127.0.0.1:4711')
    expect(peerAddress('https://10.0.0.9:8443', '::ffff:192.0.2.7', false)).toBe('https://192.0.2.7:8443')
    expect(peerAddress('http://[::1]:1', 'fd00::5', false)).toBe('http://[fd00::5]:1')
    expect(peerAddress('http://victim.example:4711', '127.0.0.1', true)).toBe('http://victim.example:4711')
    expect(peerAddress('http://victim.example:4711', undefined, false)).toBe('http://victim.example:4711')
  })
})
