import type { Socket } from 'node:net'

/** An idle keep-alive socket is closed after this long. */
const IDLE_MS = 15_000
/** Idle sockets kept per host:port; more are closed when they come back. */
const MAX_IDLE_PER_HOST = 64

/**
 * Keep-alive sockets of the piece client, per `host:port`, waiting for the
 * next piece GET. A parked socket does not keep the process alive and closes
 * itself after IDLE_MS; one the server closed meanwhile is skipped.
 */
export class SocketPool<T extends { socket: Socket }> {
  private readonly idle = new Map<string, T[]>()

  /** The most recently parked live connection to `key`, if any. */
  take(key: string): T | undefined {
    const list = this.idle.get(key)
    let connection = list?.pop()
    while (connection?.socket.destroyed) connection = list?.pop()
    if (list && !list.length) this.idle.delete(key)
    return connection
  }

  /** Parks a connection whose response is complete; closes it when the host already has enough waiting. */
  park(key: string, connection: T): void {
    const list = this.idle.get(key) ?? []
    if (list.length >= MAX_IDLE_PER_HOST) return void connection.socket.destroy()
    connection.socket.setTimeout(IDLE_MS)
    connection.socket.unref()
    list.push(connection)
    this.idle.set(key, list)
  }
}
