/**
 * Lines of a streamed UTF-8 body (NDJSON), as they complete; a last line
 * without its newline counts too. A line longer than `maxLength` characters
 * ends the read with an error: a peer's stream can't make this side buffer
 * without bound.
 */
export async function* readLines(chunks: AsyncIterable<Uint8Array>, maxLength: number): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let pending = ''
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true })
    let at = pending.indexOf('\n')
    while (at >= 0) {
      const line = pending.slice(0, at)
      pending = pending.slice(at + 1)
      if (line.trim()) yield line
      at = pending.indexOf('\n')
    }
    if (pending.length > maxLength) throw new Error(`a line is longer than ${maxLength} characters`)
  }
  pending += decoder.decode()
  if (pending.trim()) yield pending
}
