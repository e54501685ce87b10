/**
 * `MaxPoolGrad` for tfjs-backend-wasm 4.22 in one pass over the wasm heap.
 *
 * The backend's own kernel drops part of the gradient for even pool sizes (e.g. pool 2, stride 1
 * or 2: some inputs that are a window's maximum get no gradient; checked against the cpu backend
 * and finite differences). dpkit's first replacement composed the gradient from ~10 backend
 * kernels per pooling tap (pad, strided slice, equality masks, select, pad, add) and cost 290 ms
 * for the small MNIST CNN's `[256, 10, 10, 16]` pool at batch 256, 70% of its DP step. This one
 * reads the input, the pooled output and the output gradient through typed-array views of the
 * heap and, for each output element, adds its gradient to the first input position of its window
 * (row-major order, as on the cpu backend) that equals the window's maximum: one loop, no
 * intermediate tensors. Positions in the padding never match. A window whose maximum is NaN
 * passes no gradient (as before).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "same" | "valid" | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Kernel function of `MaxPoolGrad` (float32) on the wasm heap. @internal */
export function maxPoolGradDirectKernel(): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, input, output } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
    const a = attrs as unknown as MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    const [n, h, w, c] = input.shape;
    const { filterHeight: ph, filterWidth: pw, strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
    const { top, left } = info.padInfo;
    const b = backend as unknown as WasmBackendLike;
    const dx = b.makeOutput(input.shape, "float32");
    // Views after the allocation (it may grow the heap).
    const dxV = b.typedArrayFromHeap(dx) as Float32Array;
    const xV = b.typedArrayFromHeap(input) as Float32Array;
    const yV = b.typedArrayFromHeap(output) as Float32Array;
    const gV = b.typedArrayFromHeap(dy) as Float32Array;
    dxV.fill(0);
    const rowStride = w * c;
    const imageStride = h * rowStride;
    let o = 0;
    for (let e = 0; e < n; e++) {
      const base = e * imageStride;
      for (let yr = 0; yr < ho; yr++) {
        const r0 = yr * sh - top;
        for (let yc = 0; yc < wo; yc++) {
          const c0 = yc * sw - left;
          for (let d = 0; d < c; d++, o++) {
            const m = yV[o];
            let hit = -1;
            for (let i = 0; i < ph && hit < 0; i++) {
              const r = r0 + i;
              if (r < 0 || r >= h) continue;
              for (let j = 0; j < pw; j++) {
                const col = c0 + j;
                if (col < 0 || col >= w) continue;
                const idx = base + r * rowStride + col * c + d;
                if (xV[idx] === m) {
                  hit = idx;
                  break;
                }
              }
            }
            if (hit >= 0) dxV[hit] += gV[o];
          }
        }
      }
    }
    return dx;
  };
}
