/**
 * im2col: the patches a 2-D convolution reads, as a matrix per example.
 *
 * `unfold(a)` has shape `[N, P, kh*kw*C]` (P = output positions; the last axis ordered
 * (kernel row, kernel column, channel), the order of a `[kh, kw, C, Cout]` kernel reshaped to
 * `[kh*kw*C, Cout]`), so that `conv2d(a, W)[i] = unfold(a)[i] · reshape(W, [kh*kw*C, Cout])`.
 * Built with one pad and one gather (cheaper than a convolution with an identity filter).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Geometry of a 2-D convolution (NHWC). */
export interface ConvGeometry {
  kernelHeight: number;
  kernelWidth: number;
  strides: [number, number];
  dilations: [number, number];
  padding: "same" | "valid";
}

/** The unfolded input and the output size. */
export interface Unfolded {
  /** `[N, P, kh*kw*C]` */
  patches: tf.Tensor3D;
  outHeight: number;
  outWidth: number;
}

const indexCache = new Map<
  string,
  { indices: Int32Array; pads: [[number, number], [number, number]]; outHeight: number; outWidth: number }
>();

function patchIndices(inShape: [number, number, number], geometry: ConvGeometry) {
  const [h, w, c] = inShape;
  const key = `${inShape.join("x")}|${geometry.kernelHeight}x${geometry.kernelWidth}|${geometry.strides}|${geometry.dilations}|${geometry.padding}`;
  const hit = indexCache.get(key);
  if (hit) return hit;
  const info = tf.backend_util.computeConv2DInfo(
    [1, h, w, c],
    [geometry.kernelHeight, geometry.kernelWidth, c, 1],
    geometry.strides,
    geometry.dilations,
    geometry.padding,
  );
  const { top, left } = info.padInfo;
  const [sh, sw] = geometry.strides;
  const [dh, dw] = geometry.dilations;
  const kh = geometry.kernelHeight;
  const kw = geometry.kernelWidth;
  const ho = info.outHeight;
  const wo = info.outWidth;
  const needH = (ho - 1) * sh + (kh - 1) * dh + 1;
  const needW = (wo - 1) * sw + (kw - 1) * dw + 1;
  const bottom = Math.max(0, needH - h - top);
  const right = Math.max(0, needW - w - left);
  const wp = w + left + right;
  const k = kh * kw * c;
  const indices = new Int32Array(ho * wo * k);
  let q = 0;
  for (let oy = 0; oy < ho; oy++) {
    for (let ox = 0; ox < wo; ox++) {
      for (let ky = 0; ky < kh; ky++) {
        const row = oy * sh + ky * dh;
        for (let kx = 0; kx < kw; kx++) {
          const base = (row * wp + ox * sw + kx * dw) * c;
          for (let ch = 0; ch < c; ch++) indices[q++] = base + ch;
        }
      }
    }
  }
  const entry = {
    indices,
    pads: [
      [top, bottom],
      [left, right],
    ] as [[number, number], [number, number]],
    outHeight: ho,
    outWidth: wo,
  };
  if (indexCache.size > 64) indexCache.clear();
  indexCache.set(key, entry);
  return entry;
}

/** Unfolds an NHWC batch into per-example patch matrices (see the module summary). */
export function unfold(input: tf.Tensor4D, geometry: ConvGeometry): Unfolded {
  const [n, h, w, c] = input.shape;
  const { indices, pads, outHeight, outWidth } = patchIndices([h, w, c], geometry);
  const padded = pads[0][0] + pads[0][1] + pads[1][0] + pads[1][1] > 0 ? tf.pad(input, [[0, 0], pads[0], pads[1], [0, 0]]) : input;
  const flat = tf.reshape(padded, [n, -1]);
  const idx = tf.tensor1d(indices, "int32");
  const k = geometry.kernelHeight * geometry.kernelWidth * c;
  const patches = tf.reshape(tf.gather(flat, idx, 1), [n, outHeight * outWidth, k]) as tf.Tensor3D;
  return { patches, outHeight, outWidth };
}
