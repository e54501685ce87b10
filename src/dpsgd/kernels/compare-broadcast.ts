/**
 * The comparison kernels (`Equal`, `NotEqual`, `Greater`, `GreaterEqual`, `Less`, `LessEqual`) of
 * tfjs-backend-wasm 4.22 when their operands need broadcasting, as one host loop over the heap.
 *
 * The gradient of `max` (GlobalMaxPooling1D, MaxPooling over time) compares the input with its
 * broadcast maximum: `equal(x [256, 60, 32], max [256, 1, 32])`. tfjs-backend-wasm runs that
 * broadcast through a generic per-element index computation: 60 ms for those 491,520 elements
 * (0.7 ms for a broadcast `add`, 2.7 ms for a same-shape `equal`, measured side by side) — most of
 * an Embedding → Conv1D → GlobalMaxPooling1D text model's step, private or not. This kernel walks
 * the output in row-major order with each operand's offset carried along (stride 0 on a broadcast
 * axis), comparing in a plain loop: the same IEEE comparisons (NaN compares unequal), the same
 * bool output. Same-shape operands, and dtypes other than float32 / int32 pairs, go to the
 * backend's own kernel.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** The comparisons this file replaces, by kernel name. */
export const COMPARISON_KERNELS = ["Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"] as const;

/** A comparison kernel's name. */
export type ComparisonKernel = (typeof COMPARISON_KERNELS)[number];

type Loop = (
  out: Uint8Array,
  a: Float32Array | Int32Array,
  b: Float32Array | Int32Array,
  o: number,
  ia: number,
  ib: number,
  n: number,
  sa: number,
  sb: number,
) => void;

// One loop per comparison (monomorphic; no per-element closure call). Writes out[o + j] for j < n,
// reading a[ia + j·sa] and b[ib + j·sb].
const LOOPS: Record<ComparisonKernel, Loop> = {
  Equal: (out, a, b, o, ia, ib, n, sa, sb) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) out[o + j] = a[ia] === b[ib] ? 1 : 0;
  },
  NotEqual: (out, a, b, o, ia, ib, n, sa, sb) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) out[o + j] = a[ia] !== b[ib] ? 1 : 0;
  },
  Greater: (out, a, b, o, ia, ib, n, sa, sb) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) out[o + j] = a[ia] > b[ib] ? 1 : 0;
  },
  GreaterEqual: (out, a, b, o, ia, ib, n, sa, sb) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) out[o + j] = a[ia] >= b[ib] ? 1 : 0;
  },
  Less: (out, a, b, o, ia, ib, n, sa, sb) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) out[o + j] = a[ia] < b[ib] ? 1 : 0;
  },
  LessEqual: (out, a, b, o, ia, ib, n, sa, sb) => {
    for (let j = 0; j < n; j++, ia += sa, ib += sb) out[o + j] = a[ia] <= b[ib] ? 1 : 0;
  },
};

/** The broadcast output shape of two shapes (numpy rules), or undefined where they do not broadcast. */
function broadcastShape(s: readonly number[], t: readonly number[]): number[] | undefined {
  const rank = Math.max(s.length, t.length);
  const out: number[] = [];
  for (let k = 0; k < rank; k++) {
    const x = s[s.length - rank + k] ?? 1;
    const y = t[t.length - rank + k] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/** Row-major strides of `shape` aligned to `rank` output axes, 0 on every broadcast (size-1 or missing) axis. */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const rank = outShape.length;
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let k = rank - 1; k >= 0; k--) {
    const d = shape[shape.length - rank + k] ?? 1;
    strides[k] = d === 1 && outShape[k] !== 1 ? 0 : s;
    s *= d;
  }
  return strides;
}

/** Kernel function of comparison `name` with broadcasting on the wasm heap; `fallback` is the backend's own. @internal */
export function compareBroadcastKernel(name: ComparisonKernel, fallback: tf.KernelConfig | undefined): tf.KernelFunc {
  if (!fallback) throw new Error(`dpkit: the wasm backend has no ${name} kernel to fall back to`);
  const own = fallback.kernelFunc;
  const loop = LOOPS[name];
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const sameShape = a.shape.length === b.shape.length && a.shape.every((d, k) => d === b.shape[k]);
    const numeric = a.dtype === b.dtype && (a.dtype === "float32" || a.dtype === "int32");
    const outShape = numeric && !sameShape ? broadcastShape(a.shape, b.shape) : undefined;
    if (outShape === undefined) return own(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(outShape, "bool");
    const size = outShape.reduce((p, q) => p * q, 1);
    if (size === 0) return out;
    // Views after the allocation (it may grow the heap).
    const o = backend.typedArrayFromHeap(out) as Uint8Array;
    const av = backend.typedArrayFromHeap(a) as Float32Array | Int32Array;
    const bv = backend.typedArrayFromHeap(b) as Float32Array | Int32Array;
    const rank = outShape.length;
    const sa = broadcastStrides(a.shape, outShape);
    const sb = broadcastStrides(b.shape, outShape);
    const inner = rank === 0 ? 1 : outShape[rank - 1];
    const innerA = rank === 0 ? 0 : sa[rank - 1];
    const innerB = rank === 0 ? 0 : sb[rank - 1];
    // Walk the outer axes with a counter, carrying each operand's offset.
    const counter = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    let ia = 0;
    let ib = 0;
    for (let off = 0; off < size; off += inner) {
      loop(o, av, bv, off, ia, ib, inner, innerA, innerB);
      for (let k = rank - 2; k >= 0; k--) {
        counter[k]++;
        ia += sa[k];
        ib += sb[k];
        if (counter[k] < outShape[k]) break;
        ia -= sa[k] * outShape[k];
        ib -= sb[k] * outShape[k];
        counter[k] = 0;
      }
    }
    return out;
  };
}
