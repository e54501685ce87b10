/**
 * `Conv2DBackpropFilter` for backends that lack it (tfjs-backend-wasm 4.22), built from the
 * backend's own Transpose, PadV2, Conv2D and Slice kernels.
 *
 * The filter gradient is itself a convolution: `dW[ky, kx, ci, co] = sum_{n, y, x}
 * xpad[n, y·s + ky, x·s + kx, ci] · dy[n, y, x, co]`. Laying the input out as `[Cin, H, W, N]`
 * (batch ↔ channels) and the output gradient as a filter `[Ho, Wo, N, Cout]`, a stride-1
 * convolution dilated by the forward stride gives `[Cin, ·, ·, Cout]`; its first `kh × kw`
 * positions, transposed, are `dW`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { padSpatial, withKernelScope } from "./kernel-scope.js";

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: "same" | "valid" | number | number[][];
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/** Kernel function of `Conv2DBackpropFilter` built from other kernels of the same backend. @internal */
export function conv2dBackpropFilterKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
    if (dataFormat === "NCHW") throw new Error("dpkit Conv2DBackpropFilter: only NHWC is supported");
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad as "same",
      dimRoundingMode,
    );
    const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo } = info;
    const [n, h, w, cin] = x.shape;
    const cout = filterShape[3];
    const { top, left } = info.padInfo;
    const needH = (ho - 1) * sh + kh;
    const needW = (wo - 1) * sw + kw;
    const bottom = Math.max(0, needH - h - top);
    const right = Math.max(0, needW - w - left);
    return withKernelScope(backend as tf.KernelBackend, backendName, (s) => {
      const xt = s.run("Transpose", { x }, { perm: [3, 1, 2, 0] }); // [Cin, H, W, N]
      const padded = padSpatial(s, xt, top, bottom, left, right);
      // rows/columns past the last window are never read: crop them so that no output is wasted
      const xp =
        padded.shape[1] > needH || padded.shape[2] > needW
          ? s.run("Slice", { x: padded }, { begin: [0, 0, 0, 0], size: [cin, needH, needW, n] })
          : padded;
      const f = s.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho, Wo, N, Cout]
      const conv = s.run(
        "Conv2D",
        { x: xp, filter: f },
        { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations: [sh, sw], dimRoundingMode: undefined },
      );
      const cropped =
        conv.shape[1] === kh && conv.shape[2] === kw
          ? conv
          : s.run("Slice", { x: conv }, { begin: [0, 0, 0, 0], size: [cin, kh, kw, cout] });
      return s.run("Transpose", { x: cropped }, { perm: [1, 2, 0, 3] });
    });
  };
}
