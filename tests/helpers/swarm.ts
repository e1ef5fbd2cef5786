import { join } from 'node:path'
import { createPluginSet } from '../../core/contract/plugin.ts'
import { createPeer, type Peer, type PeerOptions } from '../../core/peer/peer.ts'
import { createSupernode, type Supernode, type SupernodeOptions } from '../../core/supernode/supernode.ts'
import sourceHttp from '../../plugins/source-http/index.ts'
import storageFs from '../../plugins/storage-fs/index.ts'
import { nodeRuntime } from '../../runtime/node.ts'

export const plugins = createPluginSet([storageFs(), sourceHttp({ headersTimeoutMs: 5_000 })])

export interface RunningSupernode {
  supernode: Supernode
  url: string
  close(): Promise<void>
}

/** A supernode in this process, on a real loopback socket. */
export async function serveSupernode(home: string, options: Partial<SupernodeOptions> = {}): Promise<RunningSupernode> {
  const supernode = createSupernode({ plugins, storage: plugins.storage({ home, namespace: 'cdn' }), createHash: nodeRuntime.createHash, ...options })
  const server = await nodeRuntime.serve(supernode.app.fetch, { port: 0, hostname: '127.0.0.1' })
  return {
    supernode,
    url: `http://127.0.0.1:${server.port}`,
    async close() {
      await server.close()
      await supernode.close()
    },
  }
}

/** A peer in this process with its own piece server. */
export async function startPeer(home: string, supernodes: string[], options: Partial<PeerOptions> = {}): Promise<Peer> {
  const peer = createPeer({
    plugins,
    storage: plugins.storage({ home: join(home), namespace: 'peer' }),
    createHash: nodeRuntime.createHash,
    serve: nodeRuntime.serve,
    supernodes,
    ...options,
  })
  await peer.start()
  return peer
}
