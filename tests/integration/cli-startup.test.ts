import { createServer, type Server } from 'node:net'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { dragonfly, killAll, startSupernode, tempDir } from '../helpers/cli.ts'

let taken: Server
let port: number
beforeAll(async () => {
  taken = createServer()
  await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done))
  port = (taken.address() as { port: number }).port
})
afterAll(async () => {
  killAll()
  await new Promise((done) => taken.close(done))
})

async function failsWith(args: string[], code: string, flag: string): Promise<void> {
  const run = dragonfly(args)
  expect(await run.done, run.stderr).toBe(12)
  expect(run.stdout + run.stderr).toContain(code)
  expect(run.stdout + run.stderr).toContain(flag)
  expect(run.stdout + run.stderr).not.toContain('E_INTERNAL')
}

it('a port in use or a host that is not this machine: its own code, naming the flag; never E_INTERNAL, never a hang', async () => {
  const home = await tempDir()
  await failsWith(['supernode', '--port', String(port), '--host', '127.0.0.1', '--home', home], 'E_ADDRESS_IN_USE', '--port')
  await failsWith(['supernode', '--port', '0', '--host', 'no-such-host.invalid', '--home', home], 'E_ADDRESS_UNAVAILABLE', '--host')
  await failsWith(['supernode', '--port', '0', '--host', '192.0.2.1', '--home', home], 'E_ADDRESS_UNAVAILABLE', '--host')
  const daemon = ['daemon', '--supernode', 'http://127.0.0.1:1', '--home', home]
  await failsWith([...daemon, '--port', String(port), '--host', '127.0.0.1', '--upload-port', '0'], 'E_ADDRESS_IN_USE', '--port')
  await failsWith([...daemon, '--port', '0', '--upload-port', String(port)], 'E_ADDRESS_IN_USE', '--upload-port')
  // Control: the same command on a free port starts.
  const sn = await startSupernode(home)
  await sn.stop()
}, 60_000)
