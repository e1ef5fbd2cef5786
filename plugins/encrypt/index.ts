import * as v from 'valibot'
import { definePlugin, type PieceContext } from '../../core/contract/plugin.ts'
import { checkPluginOptions, type PluginOptionsEntries } from '../../core/contract/plugin-options.ts'
import { createError } from '../../core/errors.ts'

export const PLUGIN_NAME = 'encrypt'
export const CODING = 'aes256gcm'

const IV_BYTES = 12
const TAG_BYTES = 16
const encoder = new TextEncoder()

export interface EncryptOptions {
  /**
   * Shared by every supernode and peer of the cluster (at least 16 characters);
   * a key per task is derived from it with HKDF-SHA-256.
   * @default none (required)
   */
  secret: string
  /**
   * Per-task keys kept derived in memory.
   * @default 256
   */
  keyCache?: number
}

const OPTIONS = v.strictObject({
  secret: v.pipe(v.string(), v.minLength(16, 'must be at least 16 characters (the same on every supernode and peer)')),
  keyCache: v.optional(v.pipe(v.number(), v.integer('must be a whole number'), v.minValue(0, 'must be at least 0')), 256),
} satisfies PluginOptionsEntries<EncryptOptions>)

/**
 * AES-256-GCM on every piece transfer (crypto.subtle): a fresh random 12-byte
 * IV per transfer, sent before the ciphertext; the task id and piece number are
 * authenticated as associated data, so a piece cannot be replayed as another.
 * A tampered body fails to decrypt and the receiver treats it as a bad piece.
 * Runs after compression whatever the plugin order (stage `encrypt`), and a
 * piece server refuses a receiver that does not offer it.
 */
export default definePlugin((options: EncryptOptions) => {
  const { secret, keyCache: limit } = checkPluginOptions(PLUGIN_NAME, options, OPTIONS)
  const keys = new Map<string, Promise<CryptoKey>>()
  const master = crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, ['deriveKey'])

  const keyFor = (taskId: string): Promise<CryptoKey> => {
    let key = keys.get(taskId)
    if (key) {
      keys.delete(taskId)
    } else {
      key = master.then((m) =>
        crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: encoder.encode(`dragonfly/encrypt/v1/${taskId}`), info: encoder.encode(`piece-key/${taskId}`) },
          m,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        ),
      )
    }
    keys.set(taskId, key)
    for (const oldest of keys.keys()) {
      if (keys.size <= limit) break
      keys.delete(oldest)
    }
    return key
  }
  const aad = (context: PieceContext): Uint8Array<ArrayBuffer> => encoder.encode(`${context.taskId}/${context.piece}`)

  return {
    name: PLUGIN_NAME,
    transform: {
      stage: 'encrypt',
      coding: CODING,
      required: true,
      async encode(data, context) {
        const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))
        const sealed = await crypto.subtle.encrypt(
          { name: 'AES-GCM', iv, additionalData: aad(context) },
          await keyFor(context.taskId),
          data as Uint8Array<ArrayBuffer>,
        )
        const out = new Uint8Array(IV_BYTES + sealed.byteLength)
        out.set(iv)
        out.set(new Uint8Array(sealed), IV_BYTES)
        return out
      },
      async decode(data, context) {
        if (data.byteLength < IV_BYTES + TAG_BYTES) throw createError('E_DIGEST_MISMATCH', `${PLUGIN_NAME}: piece ${context.piece} is too short to be sealed`)
        const iv = data.slice(0, IV_BYTES)
        try {
          const plain = await crypto.subtle.decrypt(
            { name: 'AES-GCM', iv, additionalData: aad(context) },
            await keyFor(context.taskId),
            data.subarray(IV_BYTES) as Uint8Array<ArrayBuffer>,
          )
          return new Uint8Array(plain)
        } catch (cause) {
          throw createError('E_DIGEST_MISMATCH', `${PLUGIN_NAME}: piece ${context.piece} failed authentication (tampered, or another secret)`, { cause })
        }
      },
    },
  }
})
