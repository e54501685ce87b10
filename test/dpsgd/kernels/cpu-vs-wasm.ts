/**
 * The kernel tests' comparison: the same computation on the cpu backend and on wasm (with dpkit's
 * replacement kernels), shapes, dtypes and values compared exactly.
 */
import * as tf from "@tensorflow/tfjs";

/** Shape, dtype and values of `f()` on `backend` (the backend is left active). */
export function on(backend: string, f: () => tf.Tensor) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const t = f();
    return { shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) };
  });
}

/** Whether `f()` gives exactly the same tensor on cpu and on wasm. */
export function sameOnCpuAndWasm(f: () => tf.Tensor): boolean {
  return JSON.stringify(on("cpu", f)) === JSON.stringify(on("wasm", f));
}
