/**
 * Loading dpkit's small hand-written WebAssembly modules (the ziggurat's sampling loops, the
 * sparse-input Dense kernels): their bytes ship as base64 in generated TypeScript modules and are
 * compiled synchronously on first use.
 * @module
 */

/** The bytes of a base64 string (`atob`: Node ≥ 16 and browsers). @internal */
export function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * Compiles a module synchronously (a module of a few KB: allowed on a browser's main thread), or
 * null where that fails: no WebAssembly, no SIMD (the bytes do not validate), or a page whose
 * content security policy forbids WebAssembly. @internal
 */
export function compileWasmModule(bytes: Uint8Array): WebAssembly.Module | null {
  try {
    if (typeof WebAssembly !== "object") return null;
    const copy = Uint8Array.from(bytes);
    return WebAssembly.validate(copy) ? new WebAssembly.Module(copy) : null;
  } catch {
    return null;
  }
}

/**
 * A getter for a lazily made instance's exports: `module()` is called on first use, and the getter
 * returns null from then on where it gave null or instantiation threw (no WebAssembly SIMD). Each
 * getter owns its instance, so each has its own memory. @internal
 */
export function lazyExports<E>(module: () => WebAssembly.Module | null): () => E | null {
  let exports: E | null | undefined;
  return () => {
    if (exports === undefined) {
      exports = null;
      try {
        const mod = module();
        if (mod) exports = new WebAssembly.Instance(mod, {}).exports as unknown as E;
      } catch {
        exports = null;
      }
    }
    return exports;
  };
}

/** `bytes` rounded up to a multiple of 16 (the SIMD kernels' alignment). @internal */
export const align16 = (bytes: number): number => (bytes + 15) & ~15;

/** Grows `memory` to hold at least `bytes` bytes (whole 64 KiB pages); returns its buffer. @internal */
export function ensureMemory(memory: WebAssembly.Memory, bytes: number): ArrayBuffer {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
  return memory.buffer;
}
