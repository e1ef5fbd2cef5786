/**
 * A byte range of a file as a Blob read only when it is sent, where the
 * runtime has one: Bun's `Bun.file`, which Bun.serve sends from the file
 * (sendfile) instead of copying it through JS. Node and Deno have no such
 * Blob their server sends from the file; there it is undefined.
 */
type FileSlice = (path: string, start: number, end: number) => Blob

const bun = (globalThis as { Bun?: { file(path: string): Blob } }).Bun

export const fileSlice: FileSlice | undefined = bun ? (path, start, end) => bun.file(path).slice(start, end) : undefined
