#!/usr/bin/env node
// The entry's old path, kept for scripts that name it and for npx caches that still link to it (npx keeps
// a checkout's bin link from its first run). It runs the same CLI, with Node's default thread pool:
// bin/dragonfly.cjs is the entry package.json names.
import '../dist/cli.mjs'
