import * as v from 'valibot'
import { createError } from '../errors.ts'

/**
 * The peer API's request bodies. Everything from the network is parsed here
 * before it reaches the swarm; a body that does not fit is a 400 with a code.
 */

const Headers = v.pipe(
  v.record(v.pipe(v.string(), v.regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/)), v.pipe(v.string(), v.maxLength(8192), v.regex(/^[^\r\n\0]*$/, 'header values are one line'))),
  v.check((h) => Object.keys(h).length <= 64, 'at most 64 headers'),
)
const PieceNumber = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000_000))

export const RegisterBody = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  headers: v.optional(Headers),
  filter: v.optional(v.union([v.pipe(v.string(), v.maxLength(1024)), v.pipe(v.array(v.pipe(v.string(), v.maxLength(256))), v.maxLength(64))])),
  digest: v.optional(v.pipe(v.string(), v.maxLength(100))),
  tag: v.optional(v.pipe(v.string(), v.maxLength(256))),
  peer: v.object({
    address: v.pipe(v.string(), v.maxLength(512), v.regex(/^https?:\/\/[^/\s]+$/, 'address must be http(s)://host:port')),
    location: v.optional(v.pipe(v.string(), v.maxLength(256))),
    slots: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(256))),
    have: v.optional(v.pipe(v.string(), v.maxLength(2_000_000), v.base64())),
  }),
})
export type RegisterBody = v.InferOutput<typeof RegisterBody>

export const PullBody = v.object({
  peerId: v.pipe(v.string(), v.uuid()),
  results: v.optional(
    v.pipe(
      v.array(
        v.object({
          piece: PieceNumber,
          from: v.pipe(v.string(), v.maxLength(64)),
          ok: v.boolean(),
          error: v.optional(v.picklist(['digest', 'unreachable', 'timeout', 'http'])),
          bytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
        }),
      ),
      v.maxLength(4096),
    ),
    [],
  ),
  want: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(256)), 8),
  /** Long-poll: wait for work when there is none right now. */
  wait: v.optional(v.boolean(), true),
})
export type PullBody = v.InferOutput<typeof PullBody>

export const LeaveBody = v.object({ peerId: v.pipe(v.string(), v.uuid()) })

export const PreheatBody = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  headers: v.optional(Headers),
  filter: RegisterBody.entries.filter,
  digest: v.optional(v.pipe(v.string(), v.maxLength(100))),
  tag: v.optional(v.pipe(v.string(), v.maxLength(256))),
})

/** A peer went to the source itself: it says so on the next supernode it reaches. */
export const BackToSourceReport = v.object({
  url: v.pipe(v.string(), v.maxLength(8192)),
  bytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
})

/** docker-registry's notification envelope (only the fields used). */
export const RegistryEnvelope = v.object({
  events: v.pipe(
    v.array(
      v.looseObject({
        action: v.string(),
        target: v.looseObject({
          mediaType: v.optional(v.string()),
          digest: v.optional(v.string()),
          repository: v.optional(v.string()),
          url: v.optional(v.pipe(v.string(), v.maxLength(8192), v.url())),
        }),
      }),
    ),
    v.maxLength(1024),
  ),
})

export function parseBody<S extends v.GenericSchema>(schema: S, body: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, body)
  if (!result.success) {
    const issue = result.issues[0]
    const path = issue?.path?.map((p) => String(p.key)).join('.') ?? ''
    throw createError('E_BAD_REQUEST', `invalid request body${path ? ` at ${path}` : ''}: ${issue?.message ?? 'malformed'}`)
  }
  return result.output
}

/** Wire shape of one assignment in a pull response. */
export interface AssignmentDto {
  piece: number
  digest: string
  size: number
  from: string
  /** Piece server base URL; absent when `from` is the supernode answering the pull. */
  address?: string
  endgame?: boolean
}

export interface RegisterResponse {
  taskId: string
  peerId: string
  contentLength: number
  pieceSize: number
  pieceCount: number
  digest?: string
  /** Cluster mode: the supernodes this peer should use, best first (the config service's answer). */
  supernodes?: string[]
}

export interface PullResponse {
  assignments: AssignmentDto[]
  /** Whole-content digest, once the supernode has all of it. */
  digest?: string
  /** Source failed: the peer should stop (or go back to source). */
  error?: { code: string; message: string }
}
