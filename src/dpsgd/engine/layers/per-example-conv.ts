/**
 * Every example's convolution-kernel gradient at once, as ONE depthwise convolution.
 *
 * The kernel gradient of example n is `dW_n[ky, kx, ci, co] = sum_{y,x} xpad_n[y·s + ky·d,
 * x·s + kx·d, ci] · g_n[y, x, co]`. Laying the padded input out as `[Cin, Hp, Wp, N]` (examples
 * as channels, input channels as the batch) and the output gradient as a depthwise filter
 * `[Ho, Wo, N, Cout]` (channel multiplier Cout), a depthwise convolution with stride d and
 * dilation s computes, for every input channel ci and channel n, exactly `dW_n[·, ·, ci, co]`:
 * the same flops as the batch's kernel gradient, in one kernel call, without unfolding (im2col
 * through a gather is slow on wasm). For depthwise layers the examples and channels together
 * form the channels (`[1, Hp, Wp, N·C]`, filter `[Ho, Wo, N·C, M]`).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { ConvGeometry } from "./unfold.js";

/** The input padded (and cropped) to exactly the rows and columns the convolution reads. */
function paddedInput(input: tf.Tensor4D, kernelShape: number[], g: ConvGeometry, outHeight: number, outWidth: number): tf.Tensor4D {
  const [n, h, w, c] = input.shape;
  const info = tf.backend_util.computeConv2DInfo(
    input.shape,
    [g.kernelHeight, g.kernelWidth, c, kernelShape[kernelShape.length - 1]],
    g.strides,
    g.dilations,
    g.padding,
  );
  const { top, left } = info.padInfo;
  const needH = (outHeight - 1) * g.strides[0] + (g.kernelHeight - 1) * g.dilations[0] + 1;
  const needW = (outWidth - 1) * g.strides[1] + (g.kernelWidth - 1) * g.dilations[1] + 1;
  const bottom = Math.max(0, needH - h - top);
  const right = Math.max(0, needW - w - left);
  const padded =
    top + bottom + left + right > 0
      ? tf.pad(input, [
          [0, 0],
          [top, bottom],
          [left, right],
          [0, 0],
        ])
      : input;
  // Rows/columns past the last window are never read: dropping them keeps the per-example
  // convolution from computing outputs that would be cropped away.
  return padded.shape[1] > needH || padded.shape[2] > needW ? tf.slice(padded, [0, 0, 0, 0], [n, needH, needW, c]) : padded;
}

function crop(t: tf.Tensor4D, kh: number, kw: number): tf.Tensor4D {
  const [b, hh, ww, ch] = t.shape;
  return hh === kh && ww === kw ? t : tf.slice(t, [0, 0, 0, 0], [b, kh, kw, ch]);
}

/**
 * Per-example gradients of a 2-D convolution kernel `[kh, kw, Cin, Cout]`, returned as
 * `[Cin·kh·kw, N, Cout]` (rows ordered (ci, ky, kx)).
 */
export function perExampleConvKernelGradients(input: tf.Tensor4D, outputGradient: tf.Tensor4D, g: ConvGeometry): tf.Tensor3D {
  const [n, , , cin] = input.shape;
  const [, ho, wo, cout] = outputGradient.shape;
  const xp = paddedInput(input, [cout], g, ho, wo);
  const xT = tf.transpose(xp, [3, 1, 2, 0]) as tf.Tensor4D; // [Cin, Hp, Wp, N]
  const f = tf.transpose(outputGradient, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Cout]
  const out = tf.depthwiseConv2d(xT, f, g.dilations, "valid", "NHWC", g.strides); // [Cin, ., ., N*Cout]
  return tf.reshape(crop(out, g.kernelHeight, g.kernelWidth), [cin * g.kernelHeight * g.kernelWidth, n, cout]) as tf.Tensor3D;
}

/** Converts a weighted sum over examples of {@link perExampleConvKernelGradients} (`[Cin·kh·kw, Cout]`) to the kernel layout. */
export function toKernelLayout(summed: tf.Tensor, kh: number, kw: number, cin: number, cout: number): tf.Tensor4D {
  return tf.transpose(tf.reshape(summed, [cin, kh, kw, cout]), [1, 2, 0, 3]) as tf.Tensor4D;
}

/**
 * Per-example gradients of a depthwise kernel `[kh, kw, C, M]`, returned as `[kh·kw, N, C·M]`.
 */
export function perExampleDepthwiseKernelGradients(input: tf.Tensor4D, outputGradient: tf.Tensor4D, g: ConvGeometry): tf.Tensor3D {
  const [n, , , c] = input.shape;
  const [, ho, wo, cm] = outputGradient.shape;
  const m = cm / c;
  const xp = paddedInput(input, [cm], g, ho, wo);
  const [, hp, wp] = xp.shape;
  const xT = tf.reshape(tf.transpose(xp, [1, 2, 0, 3]), [1, hp, wp, n * c]) as tf.Tensor4D; // channel = n*C + c
  const f = tf.reshape(tf.transpose(tf.reshape(outputGradient, [n, ho, wo, c, m]), [1, 2, 0, 3, 4]), [ho, wo, n * c, m]) as tf.Tensor4D;
  const out = tf.depthwiseConv2d(xT, f, g.dilations, "valid", "NHWC", g.strides); // [1, ., ., N*C*M]
  return tf.reshape(crop(out, g.kernelHeight, g.kernelWidth), [g.kernelHeight * g.kernelWidth, n, c * m]) as tf.Tensor3D;
}
