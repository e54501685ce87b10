/**
 * A 2-D convolution (NHWC, dilation 1) whose gradient with respect to its input is itself a
 * forward convolution: the output gradient spread by the stride (zeros between), padded, and
 * correlated with the kernel rotated by 180° with input and output channels swapped. On
 * tfjs-backend-wasm 4.22 this runs on XNNPACK and is about 10 times faster than the
 * `Conv2DBackpropInput` kernel tfjs's own gradient uses. Only the input gradient is defined
 * (the engine never asks tfjs for weight gradients).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Spreads `[N, Ho, Wo, C]` to `[N, (Ho-1)·sh+1, (Wo-1)·sw+1, C]` with zeros between entries. */
function spread(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, ho, wo, c] = dy.shape;
  const six = tf.reshape(dy, [n, ho, 1, wo, 1, c]);
  const padded = tf.pad(six, [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  const big = tf.reshape(padded, [n, ho * sh, wo * sw, c]);
  return tf.slice(big, [0, 0, 0, 0], [n, (ho - 1) * sh + 1, (wo - 1) * sw + 1, c]) as tf.Tensor4D;
}

/**
 * The kernel `[kh, kw, Cin, Cout]` rotated by 180° with input and output channels swapped:
 * `out[i, j, o, c] = kernel[kh-1-i, kw-1-j, c, o]` (`tf.transpose(tf.reverse(kernel, [0, 1]), [0,
 * 1, 3, 2])`). A permutation, so the same values bit for bit either way; on wasm and cpu it is done
 * in JS on the kernel's few values, because tfjs-backend-wasm 4.22's `Reverse` is a slow generic
 * loop (about 0.2–0.4 ms for a 3×3×16×32 kernel, a fixed cost of every engine call on a CNN), and
 * elsewhere (webgl, tensorflow) with the two tfjs ops, which keep the values on the device.
 * @internal
 */
export function rotateKernel(kernel: tf.Tensor4D): tf.Tensor4D {
  const backend = tf.getBackend();
  if (kernel.dtype !== "float32" || (backend !== "wasm" && backend !== "cpu")) {
    return tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
  }
  const [kh, kw, cin, cout] = kernel.shape;
  // Read through the backend, as a tfjs op would: the kernel may be a reshape (Conv1D) made inside
  // the forward pass's scope and since disposed, whose values live on as the variable's.
  const v = tf.backend().readSync(kernel.dataId) as Float32Array;
  const out = new Float32Array(v.length);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const src = ((kh - 1 - i) * kw + (kw - 1 - j)) * cin * cout;
      const dst = (i * kw + j) * cout * cin;
      for (let o = 0; o < cout; o++) for (let c = 0; c < cin; c++) out[dst + o * cin + c] = v[src + c * cout + o];
    }
  }
  return tf.tensor4d(out, [kh, kw, cout, cin], "float32");
}

/** Gradient of `conv2d(x, kernel, strides, padding)` with respect to `x`, as a forward convolution. */
export function conv2dInputGradient(
  dy: tf.Tensor4D,
  kernel: tf.Tensor4D,
  xShape: [number, number, number, number],
  strides: [number, number],
  padding: "same" | "valid",
): tf.Tensor4D {
  const [kh, kw] = kernel.shape;
  const [, h, w] = xShape;
  const info = tf.backend_util.computeConv2DInfo(xShape, kernel.shape, strides, 1, padding);
  const { top, left } = info.padInfo;
  const s = spread(dy, strides[0], strides[1]);
  const padTop = kh - 1 - top;
  const padLeft = kw - 1 - left;
  const padBottom = h + kh - 1 - s.shape[1] - padTop;
  const padRight = w + kw - 1 - s.shape[2] - padLeft;
  const rotated = rotateKernel(kernel); // [kh, kw, Cout, Cin]
  const padded = tf.pad(s, [
    [0, 0],
    [padTop, padBottom],
    [padLeft, padRight],
    [0, 0],
  ]) as tf.Tensor4D;
  return tf.conv2d(padded, rotated, 1, "valid");
}

/** `conv2d(x, kernel) (+ bias)` with the input gradient of {@link conv2dInputGradient}. */
export function conv2dFast(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor | null,
  strides: [number, number],
  padding: "same" | "valid",
): tf.Tensor4D {
  const xShape = x.shape;
  const body = (input: tf.Tensor) => {
    let value: tf.Tensor = tf.conv2d(input as tf.Tensor4D, kernel, strides, padding);
    if (bias) value = tf.add(value, bias);
    return { value, gradFunc: (dy: tf.Tensor) => conv2dInputGradient(dy as tf.Tensor4D, kernel, xShape, strides, padding) };
  };
  return tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0])(x) as tf.Tensor4D;
}
