import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { createServer, type Socket } from 'node:net'

/** Ways a source can lie or misbehave, spoken as raw bytes on the socket (an HTTP library would not let us lie). */
export type HostileBehaviour =
  | 'short-body' // Content-Length 1 MiB, 100 KiB sent, then the connection ends
  | 'long-body' // Content-Length 256 KiB, 1 MiB sent
  | 'endless-body' // Content-Length 512 KiB, then bytes until the client hangs up
  | 'endless-chunked' // no length, chunks until the client hangs up
  | 'huge-length' // Content-Length 2^53 - 1
  | 'bad-length' // Content-Length that is not a number
  | 'garbage' // not HTTP at all
  | 'redirect-loop' // 302 to itself, forever
  | 'redirect-to-metadata' // 302 to the cloud metadata address
  | 'honest' // 64 KiB, correct (for the wrong-digest case)

export interface HostileOrigin {
  url: string
  close(): Promise<void>
}

const KiB = 1024

export async function startHostileOrigin(behaviour: HostileBehaviour): Promise<HostileOrigin> {
  const sockets = new Set<Socket>()
  const honest = randomBytes(64 * KiB)
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.once('data', () => answer(socket))
  })
  const answer = (socket: Socket): void => {
    const head = (status: string, headers: string[]) => socket.write(`HTTP/1.1 ${status}\r\n${headers.join('\r\n')}\r\nconnection: close\r\n\r\n`)
    const flood = (chunked: boolean): void => {
      const chunk = randomBytes(64 * KiB)
      const frame = chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk
      const pump = (): void => {
        while (!socket.destroyed && socket.write(frame));
        if (!socket.destroyed) socket.once('drain', pump)
      }
      pump()
    }
    switch (behaviour) {
      case 'short-body':
        head('200 OK', [`content-length: ${1024 * KiB}`])
        socket.end(randomBytes(100 * KiB))
        return
      case 'long-body':
        head('200 OK', [`content-length: ${256 * KiB}`])
        socket.end(randomBytes(1024 * KiB))
        return
      case 'endless-body':
        head('200 OK', [`content-length: ${512 * KiB}`])
        return flood(false)
      case 'endless-chunked':
        head('200 OK', ['transfer-encoding: chunked'])
        return flood(true)
      case 'huge-length':
        head('200 OK', [`content-length: ${Number.MAX_SAFE_INTEGER}`])
        return flood(false)
      case 'bad-length':
        head('200 OK', ['content-length: lots'])
        socket.end('x')
        return
      case 'garbage':
        socket.end(randomBytes(4 * KiB))
        return
      case 'redirect-loop':
        head('302 Found', ['location: /file', 'content-length: 0'])
        socket.end()
        return
      case 'redirect-to-metadata':
        head('302 Found', ['location: http://169.254.169.254/latest/meta-data/', 'content-length: 0'])
        socket.end()
        return
      case 'honest':
        head('200 OK', [`content-length: ${honest.length}`])
        socket.end(honest)
        return
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/file`,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
