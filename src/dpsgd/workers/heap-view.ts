/**
 * Reading a tensor's values without an extra copy, for the worker pool's data movement.
 *
 * On the wasm backend `dataSync()` copies the values out of the wasm heap into a new buffer;
 * the pool only copies them on (into shared memory, into a chunk's result), so it reads a view
 * of the heap instead and copies once. The view is valid only until the next tfjs call (a heap
 * growth replaces the buffer): use it at once. Other backends: `dataSync()`.
 * Reads only: the values, and so every result, are the same bytes either way.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface WasmBackendLike {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  dataIdMap: { has(dataId: object): boolean };
}

/** The values of a float32 or int32 tensor: a view of the wasm heap where possible, else `dataSync()`. @internal */
export function valuesOf(t: tf.Tensor): Float32Array | Int32Array {
  if ((t.dtype === "float32" || t.dtype === "int32") && tf.getBackend() === "wasm") {
    const b = tf.backend() as unknown as Partial<WasmBackendLike>;
    if (typeof b.typedArrayFromHeap === "function" && b.dataIdMap?.has(t.dataId)) {
      return b.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array | Int32Array;
    }
  }
  return t.dataSync() as Float32Array | Int32Array;
}

/**
 * A tensor holding `values` (which may be a view of shared memory that is rewritten later).
 * On wasm the values are copied into the heap when the tensor is made, so the view is used
 * directly; on other backends (which may keep the array itself) they are copied first. @internal
 */
export function tensorFrom(values: Float32Array | Int32Array, shape: number[], dtype: "float32" | "int32"): tf.Tensor {
  return tf.tensor(tf.getBackend() === "wasm" ? values : values.slice(), shape, dtype);
}
