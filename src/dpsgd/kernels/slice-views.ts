/**
 * `Slice`, `Unpack` and `SplitV` for tfjs-backend-wasm without the copy of the whole input.
 *
 * tfjs-backend-wasm 4.22's `Slice` starts with `backend.readSync(x)`, which copies the whole
 * input out of the wasm heap into a new JS array before copying the slice back in; `Unpack` and
 * `SplitV` call it once per output. Unstacking a `[N, T, k]` tensor over T (tfjs-layers' RNNs do
 * this for every recurrent layer, forward and backward) therefore copies `T · N·T·k` values
 * instead of `N·T·k` (measured: 264 MB per LSTM(32) step at batch 256, T = 32; 8 MB per small-CNN
 * step through the max-pool gradient). These kernels copy only the sliced elements, heap to heap,
 * through typed-array views (`subarray`/`set` over contiguous runs). Same values, same
 * shapes; strings and complex numbers go to the original kernel.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The part of tfjs-backend-wasm's backend these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

const VIEW_DTYPES = new Set(["float32", "int32", "bool"]);

/**
 * Copies the box `begin`..`begin + size` of `x` (row-major, shape `shape`) into `out`, in runs
 * as long as the trailing full axes allow.
 */
function copyBox(
  x: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  shape: number[],
  begin: number[],
  size: number[],
  out: { set(a: ArrayLike<number>, o: number): void },
): void {
  const rank = shape.length;
  if (rank === 0) {
    out.set(x.subarray(0, 1), 0);
    return;
  }
  const strides = new Array<number>(rank);
  strides[rank - 1] = 1;
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  // Innermost axis `k` such that every axis after it is taken whole: one run covers size[k]·strides[k].
  let k = rank - 1;
  while (k > 0 && begin[k] === 0 && size[k] === shape[k]) k--;
  const run = size[k] * strides[k];
  const outer = size.slice(0, k);
  const count = outer.reduce((p, s) => p * s, 1);
  if (run === 0 || count === 0) return;
  const idx = new Array<number>(k).fill(0);
  let offset = 0;
  for (let j = 0; j < k; j++) offset += begin[j] * strides[j];
  offset += begin[k] * strides[k];
  let o = 0;
  for (let c = 0; c < count; c++) {
    out.set(x.subarray(offset, offset + run), o);
    o += run;
    // Advance the outer index (odometer), keeping `offset` in step.
    for (let j = k - 1; j >= 0; j--) {
      idx[j]++;
      offset += strides[j];
      if (idx[j] < outer[j]) break;
      offset -= outer[j] * strides[j];
      idx[j] = 0;
    }
  }
}

/** One slice, heap to heap. `x` must be float32, int32 or bool. */
function sliceInto(backend: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  // Views taken after the allocation: makeOutput may grow the heap and detach older views.
  const outVals = backend.typedArrayFromHeap(out);
  const xVals = backend.typedArrayFromHeap(x);
  copyBox(xVals, x.shape, begin, size, outVals);
  return out;
}

function original(name: string, current: tf.KernelConfig | undefined): tf.KernelFunc {
  if (!current) throw new Error(`dpkit: the wasm backend has no ${name} kernel to fall back to`);
  return current.kernelFunc;
}

/** Kernel function of `Slice` without the whole-input copy; `fallback` is the backend's own. @internal */
export function sliceViewKernel(fallback: tf.KernelConfig | undefined): tf.KernelFunc {
  const own = original("Slice", fallback);
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!VIEW_DTYPES.has(x.dtype)) return own(args);
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size?: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo & tf.Tensor, begin, size);
    return sliceInto(args.backend as unknown as WasmBackendLike, x, b, s);
  };
}

/** Kernel function of `Unpack` (one slice per index of `axis`) without the whole-input copies. @internal */
export function unpackViewKernel(fallback: tf.KernelConfig | undefined): tf.KernelFunc {
  const own = original("Unpack", fallback);
  return (args) => {
    const { value } = args.inputs as { value: tf.TensorInfo };
    if (!VIEW_DTYPES.has(value.dtype)) return own(args);
    const rank = value.shape.length;
    let { axis } = args.attrs as unknown as { axis: number };
    if (axis < 0) axis += rank;
    const backend = args.backend as unknown as WasmBackendLike;
    const outShape = value.shape.filter((_, d) => d !== axis);
    const begin = new Array<number>(rank).fill(0);
    const size = value.shape.slice();
    size[axis] = 1;
    const outs: tf.TensorInfo[] = [];
    for (let i = 0; i < value.shape[axis]; i++) {
      begin[axis] = i;
      const t = sliceInto(backend, value, begin, size);
      outs.push({ dataId: t.dataId, dtype: t.dtype, shape: outShape });
    }
    return outs;
  };
}

/** Kernel function of `SplitV` without the whole-input copies. @internal */
export function splitVViewKernel(fallback: tf.KernelConfig | undefined): tf.KernelFunc {
  const own = original("SplitV", fallback);
  return (args) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (!VIEW_DTYPES.has(x.dtype)) return own(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const rank = x.shape.length;
    let ax = Array.isArray(axis) ? axis[0] : axis;
    if (ax < 0) ax += rank;
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const backend = args.backend as unknown as WasmBackendLike;
    const begin = new Array<number>(rank).fill(0);
    return sizes.map((s) => {
      const size = x.shape.slice();
      size[ax] = s;
      const out = sliceInto(backend, x, begin, size);
      begin[ax] += s;
      return out;
    });
  };
}
