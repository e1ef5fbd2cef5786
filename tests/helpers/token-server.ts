import { execFile } from 'node:child_process'
import { createPrivateKey, type KeyObject, randomUUID, sign, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { RegistryTokenAuth } from './registry.ts'

const run = promisify(execFile)

export interface TokenServer {
  /** The `auth.token` settings for `startRegistry`. */
  auth: RegistryTokenAuth
  /** Basic credentials (`user:password`) the server grants pull and push to. */
  credentials: string
  /** Every token request: its scope and whether it carried the right Basic credentials. */
  requests: { scope: string | null; authorized: boolean }[]
  close(): Promise<void>
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

/**
 * A token service of the test's own for docker-registry's token auth: RS256 JWTs signed with a fresh
 * self-signed certificate (made with Debian's openssl), which the registry trusts as its root bundle.
 * Anonymous requests get a token with no access, as Docker Hub's does, so the registry still says 401.
 */
export async function startTokenServer(dir: string): Promise<TokenServer> {
  const keyPath = join(dir, 'token-key.pem')
  const certPath = join(dir, 'token-cert.pem')
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '2',
    '-subj',
    '/CN=dragonfly-test-token-issuer',
  ])
  const key: KeyObject = createPrivateKey(await readFile(keyPath))
  const certDer = new X509Certificate(await readFile(certPath)).raw
  const user = 'puller'
  const password = randomUUID()
  const service = 'dragonfly-test-registry'
  const issuer = 'dragonfly-test-issuer'
  const requests: TokenServer['requests'] = []

  const token = (scope: string | null, granted: boolean): string => {
    const now = Math.floor(Date.now() / 1000)
    // scope is `repository:<name>:<actions>`; the name itself may hold no colon here (no registry port in it).
    const m = scope ? /^repository:([^:]+):(.+)$/.exec(scope) : null
    const access = granted && m ? [{ type: 'repository', name: m[1], actions: m[2]!.split(',') }] : []
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [certDer.toString('base64')] }))
    const claims = b64url(
      JSON.stringify({ iss: issuer, sub: granted ? user : '', aud: service, exp: now + 600, nbf: now - 10, iat: now, jti: randomUUID(), access }),
    )
    return `${header}.${claims}.${b64url(sign('sha256', Buffer.from(`${header}.${claims}`), key))}`
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://token')
    const scope = url.searchParams.get('scope')
    const basic = req.headers.authorization
    const authorized = basic === `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    requests.push({ scope, authorized })
    if (basic && !authorized) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}')
    const value = token(scope, authorized)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: value, access_token: value, expires_in: 600 }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    auth: { realm: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, service, issuer, rootCertBundle: certPath },
    credentials: `${user}:${password}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
