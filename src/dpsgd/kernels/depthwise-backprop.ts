/**
 * `DepthwiseConv2dNativeBackpropFilter` and `DepthwiseConv2dNativeBackpropInput` for backends
 * that lack them (tfjs-backend-wasm 4.22), built from the backend's own kernels with one step
 * per kernel tap (ky, kx):
 *
 * - filter: `dW[ky, kx, c, m] = sum_{n,y,x} xpad[n, y·s + ky·d, x·s + kx·d, c] · dy[n, y, x, c, m]`
 *   (a strided slice of the padded input times the output gradient, summed);
 * - input: `dxpad[n, y·s + ky·d, x·s + kx·d, c] += sum_m dy[n, y, x, c, m] · W[ky, kx, c, m]`
 *   (the contraction over m, spread by the stride with zero padding, shifted by the tap and
 *   accumulated; the padding is cropped at the end).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { padSpatial, withKernelScope } from "./kernel-scope.js";

interface DepthwiseAttrs {
  strides: number | [number, number];
  dilations: number | [number, number];
  pad: "same" | "valid" | number | number[][];
  dimRoundingMode?: "floor" | "round" | "ceil";
}

function info(xShape: number[], filterShape: number[], a: DepthwiseAttrs) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations,
    a.pad as "same",
    a.dimRoundingMode,
    true,
  );
}

/** Kernel function of `DepthwiseConv2dNativeBackpropFilter`. @internal */
export function depthwiseBackpropFilterKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as DepthwiseAttrs & { filterShape: [number, number, number, number] };
    const ci = info(x.shape, a.filterShape, a);
    const [n, h, w, c] = x.shape;
    const [kh, kw, , m] = a.filterShape;
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, outHeight: ho, outWidth: wo } = ci;
    const { top, left } = ci.padInfo;
    const bottom = Math.max(0, (ho - 1) * sh + (kh - 1) * dh + 1 - h - top);
    const right = Math.max(0, (wo - 1) * sw + (kw - 1) * dw + 1 - w - left);
    return withKernelScope(backend as tf.KernelBackend, backendName, (s) => {
      const xp = padSpatial(s, x, top, bottom, left, right);
      const dy5 = s.run("Reshape", { x: dy }, { shape: [n, ho, wo, c, m] });
      const taps: tf.TensorInfo[] = [];
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const r0 = ky * dh;
          const c0 = kx * dw;
          const sl = s.run(
            "StridedSlice",
            { x: xp },
            {
              begin: [0, r0, c0, 0],
              end: [n, r0 + (ho - 1) * sh + 1, c0 + (wo - 1) * sw + 1, c],
              strides: [1, sh, sw, 1],
              beginMask: 0,
              endMask: 0,
              ellipsisMask: 0,
              newAxisMask: 0,
              shrinkAxisMask: 0,
            },
          );
          const sl5 = s.run("Reshape", { x: sl }, { shape: [n, ho, wo, c, 1] });
          const prod = s.run("Multiply", { a: sl5, b: dy5 });
          taps.push(s.run("Sum", { x: prod }, { axis: [0, 1, 2], keepDims: false }));
        }
      }
      const packed = taps.length === 1 ? taps[0] : s.run("Pack", taps, { axis: 0 });
      return s.run("Reshape", { x: packed }, { shape: [kh, kw, c, m] });
    });
  };
}

/** Kernel function of `DepthwiseConv2dNativeBackpropInput`. @internal */
export function depthwiseBackpropInputKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as DepthwiseAttrs & { inputShape: [number, number, number, number] };
    const ci = info(a.inputShape, filter.shape, a);
    const [n, h, w, c] = a.inputShape;
    const [kh, kw, , m] = filter.shape;
    const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw, outHeight: ho, outWidth: wo } = ci;
    const { top, left } = ci.padInfo;
    const hc = Math.max(ho * sh + (kh - 1) * dh, top + h);
    const wc = Math.max(wo * sw + (kw - 1) * dw, left + w);
    return withKernelScope(backend as tf.KernelBackend, backendName, (s) => {
      const dy5 = s.run("Reshape", { x: dy }, { shape: [n, ho, wo, c, m] });
      let acc: tf.TensorInfo | undefined;
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          const wt = s.run("Slice", { x: filter }, { begin: [ky, kx, 0, 0], size: [1, 1, c, m] });
          const w2 = s.run("Reshape", { x: wt }, { shape: [c, m] });
          const prod = s.run("Multiply", { a: dy5, b: w2 });
          const contracted = s.run("Sum", { x: prod }, { axis: [4], keepDims: false }); // [n, ho, wo, c]
          let spread = contracted;
          if (sh > 1 || sw > 1) {
            const six = s.run("Reshape", { x: contracted }, { shape: [n, ho, 1, wo, 1, c] });
            const padded = s.run(
              "PadV2",
              { x: six },
              {
                paddings: [
                  [0, 0],
                  [0, 0],
                  [0, sh - 1],
                  [0, 0],
                  [0, sw - 1],
                  [0, 0],
                ],
                constantValue: 0,
              },
            );
            spread = s.run("Reshape", { x: padded }, { shape: [n, ho * sh, wo * sw, c] });
          }
          const r0 = ky * dh;
          const c0 = kx * dw;
          const placed = padSpatial(s, spread, r0, hc - r0 - ho * sh, c0, wc - c0 - wo * sw);
          acc = acc === undefined ? placed : s.run("Add", { a: acc, b: placed });
        }
      }
      return s.run("Slice", { x: acc! }, { begin: [0, top, left, 0], size: [n, h, w, c] });
    });
  };
}
