import { describe, expect, it } from 'vitest'
import encrypt, { CODING } from '../../plugins/encrypt/index.ts'
import { testTransform } from '../../testing/index.ts'
import { optionError } from '../helpers/option-error.ts'

const SECRET = 'sixteen chars or more'
const context = { taskId: 'cd'.repeat(32), piece: 3, coding: CODING }

describe('encrypt', () => {
  it('passes testTransform, with the default key cache and with none', async () => {
    await testTransform(encrypt({ secret: SECRET }))
    await testTransform(encrypt({ secret: SECRET, keyCache: 0 }))
  })

  it('is a required encrypt-stage transform; another secret cannot open its pieces', async () => {
    const plugin = encrypt({ secret: SECRET })
    expect(plugin.transform).toMatchObject({ stage: 'encrypt', coding: 'aes256gcm', required: true })
    const sealed = (await plugin.transform.encode(new TextEncoder().encode('piece body'), context))!
    await expect(encrypt({ secret: `${SECRET}!` }).transform.decode(sealed, context)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' })
    expect(new TextDecoder().decode(await plugin.transform.decode(sealed, context))).toBe('piece body')
  })

  it('requires a secret of 16 characters and refuses misspelt options, never echoing the secret', () => {
    expect(optionError(() => (encrypt as (o?: unknown) => unknown)())).toBe('encrypt: option `secret` is required')
    const short = optionError(() => encrypt({ secret: 'hunter2' }))
    expect(short).toMatch(/^encrypt: option `secret` must be at least 16 characters/)
    expect(short).not.toContain('hunter2')
    expect(optionError(() => encrypt({ secert: SECRET } as never))).toMatch(/unknown option `secert` \(did you mean `secret`\?\)/)
    expect(optionError(() => encrypt({ secret: SECRET, keycache: 10 } as never))).toMatch(/unknown option `keycache` \(did you mean `keyCache`\?\)/)
    expect(optionError(() => encrypt({ secret: SECRET, keyCache: '10' } as never))).toBe('encrypt: option `keyCache` must be a number, got a string')
  })
})
