/**
 * A byte range of a file as a response body the runtime's server sends from
 * the file, without the bytes passing through JS:
 * - Bun: a `Bun.file` slice, which Bun.serve sends with sendfile;
 * - Deno: the file's own stream (`Deno.FsFile.readable`) from the range's
 *   start, which Deno.serve pumps from the file in Rust. It runs on to the
 *   file's end: the piece server sends it with `Content-Length` set to the
 *   range, and Deno.serve stops there (and closes the file).
 * Node has neither; there it is undefined.
 */
type FileBody = (path: string, start: number, length: number) => Promise<Blob | ReadableStream<Uint8Array>>

interface DenoFile {
  seek(offset: number, whence: number): Promise<number>
  readonly readable: ReadableStream<Uint8Array>
  close(): void
}

const bun = (globalThis as { Bun?: { file(path: string): Blob } }).Bun
const deno = (globalThis as { Deno?: { open(path: string): Promise<DenoFile>; SeekMode: { Start: number } } }).Deno

async function denoFileBody(path: string, start: number): Promise<ReadableStream<Uint8Array>> {
  const file = await deno!.open(path)
  try {
    await file.seek(start, deno!.SeekMode.Start)
  } catch (error) {
    file.close()
    throw error
  }
  return file.readable
}

export const fileBody: FileBody | undefined = bun
  ? async (path, start, length) => bun.file(path).slice(start, start + length)
  : deno
    ? (path, start) => denoFileBody(path, start)
    : undefined
