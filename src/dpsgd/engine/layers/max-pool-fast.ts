/**
 * `tf.layers.maxPooling2d` with a faster input gradient for the engine's backward pass.
 *
 * tfjs-backend-wasm 4.22's `MaxPoolGrad` is a scalar loop (about 100 ms for a 256×14×14×16 map
 * here); this gradient is a handful of elementwise operations per pooling tap: for each tap in
 * row-major order, the positions where the input equals the window's maximum and no earlier tap
 * already did (the first maximum wins, as in tfjs's own `MaxPoolGrad`) receive the output
 * gradient, spread back by the stride and shifted by the tap.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface PoolLike {
  poolSize: [number, number];
  strides: [number, number];
  padding: string;
  dataFormat: string;
}

/** Spreads `[N, Ho, Wo, C]` to `[N, (Ho-1)·sh+1, (Wo-1)·sw+1, C]` with zeros between entries. */
function spread(t: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return t;
  const [n, ho, wo, c] = t.shape;
  const padded = tf.pad(tf.reshape(t, [n, ho, 1, wo, 1, c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]]);
  return tf.slice(tf.reshape(padded, [n, ho * sh, wo * sw, c]), [0, 0, 0, 0], [n, (ho - 1) * sh + 1, (wo - 1) * sw + 1, c]) as tf.Tensor4D;
}

/** Gradient of `maxPool(x)` with respect to `x`, first maximum in row-major order. */
export function maxPoolInputGradient(x: tf.Tensor4D, y: tf.Tensor4D, dy: tf.Tensor4D, poolSize: [number, number], strides: [number, number], padding: "same" | "valid"): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const [ph, pw] = poolSize;
  const [sh, sw] = strides;
  const info = tf.backend_util.computePool2DInfo(x.shape, poolSize, strides, 1, padding);
  const { top, left } = info.padInfo;
  const ho = info.outHeight;
  const wo = info.outWidth;
  const hc = Math.max(h + top, (ho - 1) * sh + ph);
  const wc = Math.max(w + left, (wo - 1) * sw + pw);
  const xp = tf.pad(x, [[0, 0], [top, hc - h - top], [left, wc - w - left], [0, 0]], -Infinity);
  let taken: tf.Tensor = tf.zerosLike(y).cast("bool");
  let acc: tf.Tensor | undefined;
  const zeros = tf.zerosLike(dy);
  const taps: [number, number][] = [];
  for (let i = 0; i < ph; i++) for (let j = 0; j < pw; j++) taps.push([i, j]);
  {
    for (const [i, j] of taps) {
      const xt = tf.stridedSlice(xp, [0, i, j, 0], [n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c], [1, sh, sw, 1]);
      const hit = tf.logicalAnd(tf.equal(xt, y), tf.logicalNot(taken));
      taken = tf.logicalOr(taken, hit);
      const s = spread(tf.where(hit, dy, zeros) as tf.Tensor4D, sh, sw);
      const placed = tf.pad(s, [[0, 0], [i, hc - i - s.shape[1]], [j, wc - j - s.shape[2]], [0, 0]]);
      acc = acc ? tf.add(acc, placed) : placed;
    }
  }
  return tf.slice(acc!, [0, top, left, 0], [n, h, w, c]) as tf.Tensor4D;
}

/** Runs a MaxPooling2D layer (channels last) with the gradient above; other configurations as they are. */
export function applyMaxPooling2d(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  const p = layer as unknown as PoolLike;
  if (p.dataFormat === "channelsFirst" || x.rank !== 4 || (p.padding !== "same" && p.padding !== "valid")) return layer.apply(x) as tf.Tensor;
  const poolSize: [number, number] = [p.poolSize[0], p.poolSize[1]];
  const strides: [number, number] = [p.strides[0], p.strides[1]];
  const padding = p.padding as "same" | "valid";
  const body = (input: tf.Tensor, save: (t: tf.Tensor[]) => void) => {
    const value = tf.maxPool(input as tf.Tensor4D, poolSize, strides, padding);
    save([input, value]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        maxPoolInputGradient(saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, dy as tf.Tensor4D, poolSize, strides, padding),
    };
  };
  return tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0])(x);
}
