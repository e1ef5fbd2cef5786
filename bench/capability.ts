/**
 * What a private task's capability check costs a piece server: the first
 * check of a token (one HMAC-SHA256 through crypto.subtle) and every later
 * one (a cached verdict), next to issuing one. `npm run bench:capability`.
 */
import { CapabilityGate, createTaskKey } from '../core/transfer/capability.ts'

const gate = new CapabilityGate('a'.repeat(64), createTaskKey())
const N = 20_000
const tokens: string[] = []
let t = performance.now()
for (let i = 0; i < N; i++) tokens.push(await gate.issue(crypto.randomUUID()))
const issueUs = ((performance.now() - t) * 1000) / N
t = performance.now()
for (const token of tokens) if (!(await gate.verify(token))) throw new Error('a good token was refused')
const firstUs = ((performance.now() - t) * 1000) / N
// A piece server sees few requesters per task: 1,000 tokens, checked once cold, then per piece.
const held = tokens.slice(0, 1000)
for (const token of held) await gate.check(token)
t = performance.now()
for (let round = 0; round < 100; round++) for (const token of held) await gate.check(token)
const cachedUs = ((performance.now() - t) * 1000) / 100_000
console.log(JSON.stringify({ issueUs: +issueUs.toFixed(2), firstCheckUs: +firstUs.toFixed(2), cachedCheckUs: +cachedUs.toFixed(3) }))
