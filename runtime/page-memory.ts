/**
 * Page-aligned memory for receive buffers: direct I/O (O_DIRECT) takes only
 * memory aligned to the device's blocks, and JS can ask for alignment only
 * through a WebAssembly memory (its buffer starts on a page). `shared` makes
 * it a SharedArrayBuffer another thread can read in place.
 */
export function allocatePages(bytes: number, shared: boolean): Uint8Array {
  const pages = Math.max(1, Math.ceil(bytes / 65536))
  try {
    return new Uint8Array(new WebAssembly.Memory({ initial: pages, maximum: pages, shared }).buffer, 0, bytes)
  } catch {
    // Out of address space for another memory (each reserves ~10 GiB of it here): plain memory still works,
    // written through the page cache (and hashed from a copy when it had to be shared).
    return new Uint8Array(bytes)
  }
}

/** Shared page-aligned memory: what every runtime's receive buffers are (the hash thread reads them in place). */
export const allocateShared = (bytes: number): Uint8Array => allocatePages(bytes, true)
