import type { Server } from 'node:http'
import type { Server as NetServer, Socket } from 'node:net'
import { afterEach } from 'vitest'

/** Servers and raw sockets a test file opens, closed after each test (call once per file). */
export function useTestServers(): { servers: (Server | NetServer)[]; sockets: Set<Socket> } {
  const servers: (Server | NetServer)[] = []
  const sockets = new Set<Socket>()
  afterEach(async () => {
    for (const s of sockets) s.destroy()
    sockets.clear()
    for (const s of servers.splice(0)) {
      ;(s as Server).closeAllConnections?.()
      await new Promise<void>((done) => s.close(() => done()))
    }
  })
  return { servers, sockets }
}
