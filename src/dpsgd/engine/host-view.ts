/**
 * Reading a tensor's values on the host backends without copying them: on wasm a typed-array
 * view of the wasm heap (`dataSync()` there copies the whole tensor into JS), on cpu the
 * backend's own array (what `dataSync()` returns there). Read-only, and valid only until the
 * next allocation on the backend (a wasm heap that grows detaches old views): read it at once.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface WasmHeapBackend {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Backends whose tensors live in host memory (reading one back is a copy at most, not a GPU download). @internal */
export const HOST_BACKENDS: ReadonlySet<string> = new Set(["cpu", "wasm"]);

/** Whether the active backend keeps tensors in host memory (cpu, wasm). @internal */
export function onHostBackend(): boolean {
  return HOST_BACKENDS.has(tf.getBackend());
}

/**
 * The values of `t` without a copy where the backend allows it (wasm heap view, cpu array),
 * else `dataSync()`. Do not write to it, and do not keep it across backend allocations.
 * @internal
 */
export function hostView(t: tf.Tensor): Float32Array | Int32Array | Uint8Array {
  if (tf.getBackend() === "wasm") {
    const b = tf.backend() as unknown as Partial<WasmHeapBackend>;
    if (typeof b.typedArrayFromHeap === "function" && t.dtype !== "string" && t.dtype !== "complex64") return b.typedArrayFromHeap(t);
  }
  return t.dataSync() as Float32Array | Int32Array | Uint8Array;
}
