#!/usr/bin/env node
'use strict'
// CommonJS on purpose: Node sizes libuv's thread pool from UV_THREADPOOL_SIZE when the pool first starts, and
// loading an ES module entry already starts it. The pool carries the peer's direct piece writes; with Node's
// default of 4 threads a 1 GiB get waited on the disk (docs/ARCHITECTURE.md, "Disk writes"). A value the user
// set wins; Bun and Deno ignore the variable.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = '16'
import('../dist/cli.mjs')
