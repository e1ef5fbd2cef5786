import { request } from 'node:http'
import { connect } from 'node:net'

// A client of the daemon's forward proxy, as an HTTP_PROXY user's tools speak to it.

/** An absolute-form GET of `url` through `proxy`. */
export function proxyGet(proxy: string, url: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const p = new URL(proxy)
  return new Promise((resolve, reject) => {
    const req = request({ host: p.hostname, port: p.port, path: url, headers: { host: new URL(url).host } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** The status line a CONNECT to `target` gets from the proxy. */
export function connectStatus(proxy: string, target: string): Promise<string> {
  const p = new URL(proxy)
  return new Promise((done, reject) => {
    const socket = connect(Number(p.port), p.hostname, () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`))
    let text = ''
    socket.on('data', (c: Buffer) => {
      text += c.toString()
      if (text.includes('\r\n')) {
        socket.destroy()
        done(text.split('\r\n')[0]!)
      }
    })
    socket.on('error', reject)
  })
}

/** CONNECT to `target` through the proxy, then a `Range: bytes=0-9` GET of `path` through the tunnel: the CONNECT's status and the whole answer. */
export function tunnelGet(proxy: string, target: string, path: string): Promise<{ status: number; answer: string }> {
  const p = new URL(proxy)
  return new Promise((done, fail) => {
    const req = request({ host: p.hostname, port: p.port, method: 'CONNECT', path: target })
    req.on('connect', (res, socket) => {
      let answer = ''
      socket.on('data', (d: Buffer) => (answer += d.toString('latin1')))
      socket.on('end', () => done({ status: res.statusCode ?? 0, answer }))
      socket.on('error', fail)
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${target}\r\nRange: bytes=0-9\r\nConnection: close\r\n\r\n`)
    })
    req.on('error', fail)
    req.end()
  })
}
