/**
 * A byte range of a file as a response body the runtime's server sends
 * without a copy per read:
 * - Bun: a `Bun.file` slice, which Bun.serve sends with sendfile;
 * - Deno: a byte stream of the range, read 1 MiB at a time into the memory
 *   its reader brings (the Deno adapter's server reads it BYOB into reused
 *   buffers and writes those to the socket). Other readers get a new chunk
 *   per read.
 * Node has neither; there it is undefined.
 */
type FileBody = (path: string, start: number, length: number) => Promise<Blob | ReadableStream<Uint8Array>>

interface DenoFile {
  seek(offset: number, whence: number): Promise<number>
  read(p: Uint8Array): Promise<number | null>
  close(): void
}

/** Read size for readers that bring no memory of their own. */
const CHUNK = 1024 * 1024

const bun = (globalThis as { Bun?: { file(path: string): Blob } }).Bun
const deno = (globalThis as { Deno?: { open(path: string): Promise<DenoFile>; SeekMode: { Start: number } } }).Deno

async function denoFileBody(path: string, start: number, length: number): Promise<ReadableStream<Uint8Array>> {
  const file = await deno!.open(path)
  try {
    await file.seek(start, deno!.SeekMode.Start)
  } catch (error) {
    file.close()
    throw error
  }
  let left = length
  let open = true
  const close = (): void => {
    if (open) file.close()
    open = false
  }
  return new ReadableStream({
    type: 'bytes',
    autoAllocateChunkSize: CHUNK,
    async pull(controller) {
      const request = controller.byobRequest!
      if (left === 0) {
        // An empty range.
        close()
        controller.close()
        return request.respond(0)
      }
      const view = request.view!
      try {
        const n = await file.read(new Uint8Array(view.buffer, view.byteOffset, Math.min(view.byteLength, left)))
        // The file ended before the range did (cut short on disk): the body fails, it is not padded.
        if (n === null) throw new Error(`file ended ${left} bytes before the range`)
        left -= n
        request.respond(n)
        if (left === 0) {
          close()
          controller.close()
        }
      } catch (error) {
        close()
        controller.error(error)
      }
    },
    cancel: close,
  })
}

export const fileBody: FileBody | undefined = bun
  ? async (path, start, length) => bun.file(path).slice(start, start + length)
  : deno
    ? (path, start, length) => denoFileBody(path, start, length)
    : undefined
