/**
 * `UnsortedSegmentSum` for backends that lack it (tfjs-backend-wasm 4.22; needed by the
 * gradient of `tf.gather`, i.e. of Embedding layers): a ScatterNd, which adds the updates of
 * repeated indices.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { withKernelScope } from "./kernel-scope.js";

/** Kernel function of `UnsortedSegmentSum`. @internal */
export function unsortedSegmentSumKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
    const { numSegments } = attrs as unknown as { numSegments: number };
    return withKernelScope(backend as tf.KernelBackend, backendName, (s) => {
      const ids = segmentIds.dtype === "int32" ? segmentIds : s.run("Cast", { x: segmentIds }, { dtype: "int32" });
      const indices = s.run("Reshape", { x: ids }, { shape: [segmentIds.shape[0], 1] });
      return s.run("ScatterNd", { indices, updates: x }, { shape: [numSegments, ...x.shape.slice(1)] });
    });
  };
}
