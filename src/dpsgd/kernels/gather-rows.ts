/**
 * `GatherV2` along the first axis for tfjs-backend-wasm 4.22, as a row copy on the wasm heap.
 *
 * An Embedding layer's forward pass is `gather(table, ids)` along axis 0. tfjs-backend-wasm's
 * kernel reads the indices into JS, checks each with a closure-based assertion, and runs a
 * generic strided gather in wasm: 25 ms (minimum over 20 runs, loaded machine) for 16,384 rows of
 * a `[20000, 16]` table — the largest part of the Embedding text model's step at batch 256.
 * This kernel checks the indices in one loop and copies each row through typed-array views of the
 * heap: same values, same error for an out-of-range index. Other axes, `batchDims` and dtypes go
 * to the backend's own kernel.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

const ROW_DTYPES = new Set(["float32", "int32"]);

/** Kernel function of `GatherV2` (axis 0, batchDims 0) on the wasm heap; `fallback` is the backend's own. @internal */
export function gatherRowsKernel(fallback: tf.KernelConfig | undefined): tf.KernelFunc {
  if (!fallback) throw new Error("dpkit: the wasm backend has no GatherV2 kernel to fall back to");
  const own = fallback.kernelFunc;
  return (args) => {
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const { axis, batchDims } = args.attrs as unknown as { axis: number; batchDims?: number };
    const rank = x.shape.length;
    const ax = axis < 0 ? axis + rank : axis;
    if (ax !== 0 || (batchDims ?? 0) !== 0 || !ROW_DTYPES.has(x.dtype) || indices.dtype !== "int32" || rank === 0) return own(args);
    const rows = x.shape[0];
    const row = x.shape.slice(1).reduce((a, b) => a * b, 1);
    const b = args.backend as unknown as WasmBackendLike;
    const ids = b.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id <= rows - 1)) throw new Error(`GatherV2: the index value ${id} is not in [0, ${rows - 1}]`);
    }
    const out = b.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    // Views after the allocation (it may grow the heap).
    // Copied as 32-bit words through Int32Array views (float32 and int32 alike: exact bits, and one
    // element type keeps the loop monomorphic).
    const outF = b.typedArrayFromHeap(out);
    const xF = b.typedArrayFromHeap(x);
    const outV = new Int32Array(outF.buffer, outF.byteOffset, outF.length);
    const xV = new Int32Array(xF.buffer, xF.byteOffset, xF.length);
    const idV = b.typedArrayFromHeap(indices) as Int32Array;
    const n = idV.length;
    if (row === 1) {
      for (let i = 0; i < n; i++) outV[i] = xV[idV[i]];
    } else {
      for (let i = 0, o = 0; i < n; i++, o += row) {
        const s = idV[i] * row;
        for (let j = 0; j < row; j++) outV[o + j] = xV[s + j];
      }
    }
    return out;
  };
}
