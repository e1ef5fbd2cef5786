#!/usr/bin/env node
'use strict'
const onNode = !process.versions.bun && typeof globalThis.Deno === 'undefined'
// `bunx dragonfly` obeys the node shebang above and starts Node; bunx says so in npm_lifecycle_event and names
// its own binary in npm_execpath. Run the CLI on Bun, as typed, unless DRAGONFLY_RUNTIME=node asks for Node.
if (onNode && process.env.npm_lifecycle_event === 'bunx' && process.env.npm_execpath && process.env.DRAGONFLY_RUNTIME !== 'node') {
  const { spawn } = require('node:child_process')
  const child = spawn(process.env.npm_execpath, [__filename, ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
  child.on('error', (error) => {
    process.stderr.write(`[error] E_CONFIG: cannot start Bun (${process.env.npm_execpath}): ${error.message}; DRAGONFLY_RUNTIME=node runs on Node\n`)
    process.exit(9)
  })
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)))
} else if (typeof globalThis.Deno !== 'undefined' && missingDenoPermissions().length > 0) {
  // Checked before anything loads: without env access the first module to read process.env dies with a stack.
  const missing = missingDenoPermissions()
  process.stderr.write(
    `[error] E_PERMISSION: Deno did not allow ${missing.map((p) => denoPermissionWords()[p]).join(', ')}. ` +
      `Run: deno run ${Object.keys(denoPermissionWords())
        .map((p) => `--allow-${p}`)
        .join(' ')} npm:dragonfly ... (docs/runtimes.md)\n`,
  )
  process.exitCode = 13
} else {
  // CommonJS on purpose: Node sizes libuv's thread pool from UV_THREADPOOL_SIZE when the pool first starts, and
  // loading an ES module entry already starts it. The pool carries the peer's direct piece writes; with Node's
  // default of 4 threads a 1 GiB get waited on the disk (docs/ARCHITECTURE.md, "Disk writes"). A value the user
  // set wins. Only on Node: Bun and Deno ignore it, and Deno without --allow-env would refuse the write.
  if (onNode && !process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16'
  import('../dist/cli.mjs')
}

/** What the CLI needs on Deno, in words (docs/runtimes.md lists the same). */
function denoPermissionWords() {
  return {
    net: 'network access (--allow-net)',
    read: 'reading files (--allow-read)',
    write: 'writing files (--allow-write)',
    env: 'environment variables (--allow-env)',
    sys: 'system information such as network interfaces (--allow-sys)',
  }
}
function missingDenoPermissions() {
  return Object.keys(denoPermissionWords()).filter((name) => globalThis.Deno.permissions.querySync({ name }).state !== 'granted')
}
