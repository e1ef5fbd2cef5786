// Which CompressionStream / DecompressionStream formats this runtime has, by a round trip.
// Run it as is on each runtime: node / bun / deno run bench/compression-formats.mjs
const FORMATS = ['gzip', 'deflate', 'deflate-raw', 'brotli', 'zstd']
const input = new TextEncoder().encode('dragonfly piece '.repeat(4096))

async function roundTrip(format) {
  try {
    const packed = new Uint8Array(await new Response(new Blob([input]).stream().pipeThrough(new CompressionStream(format))).arrayBuffer())
    const unpacked = new Uint8Array(await new Response(new Blob([packed]).stream().pipeThrough(new DecompressionStream(format))).arrayBuffer())
    const same = unpacked.length === input.length && unpacked.every((b, i) => b === input[i])
    return same ? `yes (${input.length} -> ${packed.length} B)` : 'round trip differs'
  } catch (error) {
    return `no (${error?.name ?? 'Error'})`
  }
}

const runtime = globalThis.Bun ? `bun ${Bun.version}` : globalThis.Deno ? `deno ${Deno.version.deno}` : `node ${process.versions.node}`
const rows = {}
for (const format of FORMATS) rows[format] = await roundTrip(format)
console.log(JSON.stringify({ runtime, ...rows }))
