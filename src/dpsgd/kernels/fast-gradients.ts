/**
 * Faster gradient kernels for tfjs-backend-wasm 4.22, the same maths as the kernels they replace
 * (measured on the 1.66M-parameter MNIST CNN of McMahan et al. 2017 at batch 10, see
 * docs/results-federated.md):
 *
 * - `Conv2DBackpropInput`: tfjs-wasm's own is a direct loop (about 15× slower than its XNNPACK
 *   `Conv2D` for the same multiply-adds). For stride 1 the input gradient is a convolution of
 *   the output gradient with the spatially flipped filter, its in/out channels swapped, padded by
 *   `k − 1 − pad`; that runs on the backend's `Conv2D`. Other strides keep the original kernel.
 * - `BatchMatMul`: tfjs-wasm leaves its XNNPACK path for a direct loop when an operand is
 *   transposed (the dense layer's weight and input gradients), and XNNPACK repacks the right
 *   operand on every call (the dense layer's weights, new after every step). The product is
 *   computed with untransposed operands, transposed if that puts the smaller operand on the
 *   right.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { withKernelScope } from "./kernel-scope.js";

interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: "same" | "valid" | number | number[][];
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: [number, number, number, number];
}

function pair(v: number | [number, number]): [number, number] {
  return typeof v === "number" ? [v, v] : v;
}

/**
 * `Conv2DBackpropInput` through the backend's `Conv2D` for stride 1 (NHWC); `original` (the
 * kernel being replaced) handles the other cases. @internal
 */
export function conv2dBackpropInputViaConv2DKernel(backendName: string, original: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    const [sh, sw] = pair(a.strides);
    const info =
      a.dataFormat === "NHWC" && sh === 1 && sw === 1
        ? tf.backend_util.computeConv2DInfo(
            a.inputShape,
            filter.shape as [number, number, number, number],
            1,
            1,
            a.pad as "same",
            a.dimRoundingMode,
          )
        : undefined;
    const kh = filter.shape[0];
    const kw = filter.shape[1];
    const p = info?.padInfo;
    const ok =
      info !== undefined &&
      p !== undefined &&
      info.outHeight === dy.shape[1] &&
      info.outWidth === dy.shape[2] &&
      p.top <= kh - 1 &&
      p.bottom <= kh - 1 &&
      p.left <= kw - 1 &&
      p.right <= kw - 1;
    if (!ok || p === undefined) {
      if (!original) throw new Error("dpkit Conv2DBackpropInput: no kernel for strides other than 1");
      return original(args);
    }
    return withKernelScope(backend as tf.KernelBackend, backendName, (c) => {
      const flipped = c.run("Reverse", { x: filter }, { dims: [0, 1] });
      const swapped = c.run("Transpose", { x: flipped }, { perm: [0, 1, 3, 2] }); // [kh, kw, Cout, Cin]
      return c.run(
        "Conv2D",
        { x: dy, filter: swapped },
        {
          strides: [1, 1],
          pad: [
            [0, 0],
            [kh - 1 - p.top, kh - 1 - p.bottom],
            [kw - 1 - p.left, kw - 1 - p.right],
            [0, 0],
          ],
          dataFormat: "NHWC",
          dilations: [1, 1],
          dimRoundingMode: undefined,
        },
      );
    });
  };
}

function swapLast(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

function sizeOf(t: tf.TensorInfo): number {
  return t.shape.reduce((s, d) => s * d, 1);
}

/**
 * Relative cost of XNNPACK packing one number of the right operand (it repacks it on every call
 * unless the same tensor comes again): measured about 5–10× a transpose of the same number.
 */
const PACK_COST = 4;

/**
 * `BatchMatMul` that hands `original` (the backend's kernel) untransposed operands only, and
 * puts the smaller operand on the right, where XNNPACK repacks it: `op(A)·op(B)` directly, or as
 * `(op(B)ᵀ·op(A)ᵀ)ᵀ`, whichever moves and packs fewer numbers. A product whose fresh right
 * operand is large (a dense layer's weights, new after every SGD step) thus packs the small
 * batch instead; an untransposed product that is best as it is goes to `original` unchanged.
 * @internal
 */
export function batchMatMulUntransposedKernel(backendName: string, original: tf.KernelFunc | undefined): tf.KernelFunc {
  return (args) => {
    if (!original) throw new Error("dpkit BatchMatMul: the backend has no BatchMatMul kernel");
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (a.shape.length < 2 || b.shape.length < 2) return original(args);
    const sa = sizeOf(a);
    const sb = sizeOf(b);
    const rows = transposeA ? a.shape[a.shape.length - 1] : a.shape[a.shape.length - 2];
    const cols = transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    const batch = Math.max(
      sa / (a.shape[a.shape.length - 1] * a.shape[a.shape.length - 2]),
      sb / (b.shape[b.shape.length - 1] * b.shape[b.shape.length - 2]),
      1,
    );
    const direct = (transposeA ? sa : 0) + (transposeB ? sb : 0) + PACK_COST * sb; // op(A)·op(B)
    const flipped = (transposeB ? 0 : sb) + (transposeA ? 0 : sa) + PACK_COST * sa + batch * rows * cols; // (op(B)ᵀ·op(A)ᵀ)ᵀ
    if (!transposeA && !transposeB && direct <= flipped) return original(args);
    const plain = { transposeA: false, transposeB: false };
    return withKernelScope(backend as tf.KernelBackend, backendName, (c) => {
      const t = (x: tf.TensorInfo): tf.TensorInfo => c.run("Transpose", { x }, { perm: swapLast(x.shape.length) });
      if (direct <= flipped) return c.run("BatchMatMul", { a: transposeA ? t(a) : a, b: transposeB ? t(b) : b }, plain, original);
      const left = transposeB ? b : t(b); // op(B)ᵀ
      const right = transposeA ? a : t(a); // op(A)ᵀ
      return t(c.run("BatchMatMul", { a: left, b: right }, plain, original));
    });
  };
}
