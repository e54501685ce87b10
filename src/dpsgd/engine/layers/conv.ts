/**
 * Per-example gradients of `tf.layers.conv2d` and `tf.layers.conv1d` (channels last).
 *
 * After unfolding the input (im2col, `U_i`: `[P, K]`, K = kh·kw·Cin) a convolution is a matrix
 * product, so example i's kernel gradient is `U_i^T G_i` (`G_i`: `[P, Cout]`, the gradient of
 * the pre-activation output). Its squared norm is either computed from the materialised `[K, Cout]`
 * matrix (cost P·K·Cout per example) or, without forming it, as `<U_i U_i^T, G_i G_i^T>` (ghost
 * norm via Gram matrices, cost P²·(K+Cout); Li et al. 2021, Bu, Mao & Xu 2022) — the cheaper one
 * per layer. The materialised gradients come from one depthwise convolution without unfolding
 * (see per-example-conv.ts); the Gram route unfolds. The bias gradient is `sum_p G_i[p]`. The
 * clipped sum reuses what the norms computed.
 * Conv1D is the same with a height-1 image.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../../errors.js";
import type { LayerRule, NormMode, PerExampleTerms } from "../layer-rule.js";
import { applyLayerActivation } from "./activation.js";
import { conv2dFast } from "./conv-fast.js";
import { matMulTransposeA } from "./matmul.js";
import { perExampleConvKernelGradients, toKernelLayout } from "./per-example-conv.js";
import { unfold, type ConvGeometry } from "./unfold.js";
import { hostView, onHostBackend } from "../host-view.js";
import { conv1dPerExample } from "../../kernels/per-example-wasm-kernels.js";

interface ConvLike {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  useBias: boolean;
  strides: number[];
  dilationRate: number[] | number;
  padding: string;
  dataFormat: string;
  rank: number;
}

function parts(layer: tf.layers.Layer): ConvLike {
  return layer as unknown as ConvLike;
}

function asPair(v: number[] | number, rank: number): [number, number] {
  const arr = typeof v === "number" ? [v] : v;
  if (rank === 1) return [1, arr[0]];
  return [arr[0], arr.length > 1 ? arr[1] : arr[0]];
}

/** Refuses configurations the rule does not cover. */
export function checkConvConfig(layer: tf.layers.Layer): void {
  const c = parts(layer);
  if (c.dataFormat === "channelsFirst") {
    throw new DpError(
      "unsupported_layer",
      `Layer "${layer.name}" (${layer.getClassName()}) uses dataFormat "channelsFirst"; dpkit's per-example rules need "channelsLast" (or use strategy "naive").`,
      "model",
    );
  }
  if (c.padding !== "same" && c.padding !== "valid") {
    throw new DpError(
      "unsupported_layer",
      `Layer "${layer.name}" (${layer.getClassName()}) uses padding "${c.padding}"; only "same" and "valid" are supported.`,
      "model",
    );
  }
}

/** Geometry of a Conv1D/Conv2D/DepthwiseConv2D layer as a 2-D convolution. */
export function convGeometry(layer: tf.layers.Layer, kernelShape: number[]): ConvGeometry {
  const c = parts(layer);
  const rank = c.rank === 1 ? 1 : 2;
  return {
    kernelHeight: rank === 1 ? 1 : kernelShape[0],
    kernelWidth: rank === 1 ? kernelShape[0] : kernelShape[1],
    strides: asPair(c.strides, rank),
    dilations: asPair(c.dilationRate, rank),
    padding: c.padding as "same" | "valid",
  };
}

/**
 * Chooses ghost (Gram) norms over materialising, per the mode. In "auto" ghost norms must cost
 * 4 times fewer flops: they need the unfolded input, whose gather is slow on wasm, while the
 * materialised route is one depthwise convolution.
 */
export function useGhost(mode: NormMode, positions: number, k: number, cout: number): boolean {
  if (mode === "ghost") return true;
  if (mode === "materialize") return false;
  return 4 * positions * (k + cout) < k * cout;
}

/** Per-example terms from materialised kernel gradients `[K, N, Cout]` (and bias gradients `[N, Cout]`). */
export function materializedTerms(
  per: tf.Tensor3D,
  biasPer: tf.Tensor2D | null,
  toKernel: (summed: tf.Tensor2D) => tf.Tensor,
): PerExampleTerms {
  const n = per.shape[1];
  // Along the last axis first, then over K on the small [K, N]: reducing axes [0, 2] at once
  // transposes the whole [K, N, Cout] tensor first (2x slower on wasm, measured).
  let sq: tf.Tensor = tf.sum(tf.sum(tf.square(per), 2), 0);
  if (biasPer) sq = tf.add(sq, tf.sum(tf.square(biasPer), 1));
  return {
    squaredNorms: sq as tf.Tensor1D,
    weightedSum(w) {
      const out = [toKernel(tf.sum(tf.mul(per, tf.reshape(w, [1, n, 1])), 1) as tf.Tensor2D)];
      if (biasPer) out.push(tf.reshape(tf.matMul(tf.reshape(w, [1, n]) as tf.Tensor2D, biasPer), [biasPer.shape[1]]));
      return out;
    },
  };
}

/** Per-example terms of a Conv2D-shaped layer (Conv1D reshaped) by the cheaper route. */
function convTerms(
  input: tf.Tensor4D,
  outputGradient: tf.Tensor4D,
  kernelShape: number[],
  geometry: ConvGeometry,
  useBias: boolean,
  mode: NormMode,
): PerExampleTerms {
  const [n, ho, wo, cout] = outputGradient.shape;
  const cin = input.shape[3];
  const k = geometry.kernelHeight * geometry.kernelWidth * cin;
  const gradient = tf.reshape(outputGradient, [n, ho * wo, cout]) as tf.Tensor3D;
  if (useGhost(mode, ho * wo, k, cout)) {
    const { patches } = unfold(input, geometry);
    return matmulTerms({ patches, gradient, kernelShape, useBias, mode: "ghost" });
  }
  const per = perExampleConvKernelGradients(input, outputGradient, geometry);
  const biasPer = useBias ? (tf.sum(gradient, 1) as tf.Tensor2D) : null;
  return materializedTerms(per, biasPer, (summed) =>
    tf.reshape(toKernelLayout(summed, geometry.kernelHeight, geometry.kernelWidth, cin, cout), kernelShape),
  );
}

/** Per-example terms of a convolution given its unfolded input and output gradient. */
export function matmulTerms(args: {
  patches: tf.Tensor3D; // [N, P, K]
  gradient: tf.Tensor3D; // [N, P, Cout]
  kernelShape: number[];
  useBias: boolean;
  mode: NormMode;
}): PerExampleTerms {
  const { patches, gradient, kernelShape, useBias, mode } = args;
  const [n, p, k] = patches.shape;
  const cout = gradient.shape[2];
  const biasPer = useBias ? (tf.sum(gradient, 1) as tf.Tensor2D) : null;
  let sq: tf.Tensor;
  let perKernel: tf.Tensor2D | null = null;
  if (useGhost(mode, p, k, cout)) {
    const uu = tf.matMul(patches, patches, false, true);
    const gg = tf.matMul(gradient, gradient, false, true);
    sq = tf.sum(tf.reshape(tf.mul(uu, gg), [n, -1]), 1);
  } else {
    perKernel = tf.reshape(tf.matMul(patches, gradient, true, false), [n, k * cout]) as tf.Tensor2D;
    sq = tf.sum(tf.square(perKernel), 1);
  }
  if (biasPer) sq = tf.add(sq, tf.sum(tf.square(biasPer), 1));
  return {
    squaredNorms: sq as tf.Tensor1D,
    weightedSum(w) {
      const w2 = tf.reshape(w, [1, n]) as tf.Tensor2D;
      let kernelGrad: tf.Tensor;
      if (perKernel) {
        kernelGrad = tf.reshape(tf.matMul(w2, perKernel), kernelShape);
      } else {
        const gw = tf.reshape(tf.mul(gradient, tf.reshape(w, [n, 1, 1])), [n * p, cout]) as tf.Tensor2D;
        kernelGrad = tf.reshape(matMulTransposeA(tf.reshape(patches, [n * p, k]) as tf.Tensor2D, gw), kernelShape);
      }
      const out = [kernelGrad];
      if (biasPer) out.push(tf.reshape(tf.matMul(w2, biasPer), [cout]));
      return out;
    },
  };
}

/**
 * Conv1D per-example terms from the WebAssembly kernel (kernels/per-example-wasm-kernels.ts) on
 * the host backends: the materialised kernel and bias gradients of every example and their squared
 * norms in one pass over the batch (the same sums as the depthwise-convolution route, 3× fewer
 * milliseconds), the clipped sum one float64 pass over them, handed to the DP step as host arrays.
 * Null where the kernel does not run (no WebAssembly SIMD, another backend, output channels not a
 * multiple of 4): the caller takes the tensor route.
 */
function conv1dKernelTerms(
  input: tf.Tensor,
  outputGradient: tf.Tensor,
  kernelShape: number[],
  geometry: ConvGeometry,
  useBias: boolean,
): PerExampleTerms | null {
  if (!onHostBackend() || input.dtype !== "float32" || outputGradient.dtype !== "float32") return null;
  const [n, len, cin] = input.shape;
  const [, positions, cout] = outputGradient.shape;
  const kw = geometry.kernelWidth;
  const info = tf.backend_util.computeConv2DInfo(
    [n, 1, len, cin],
    [1, kw, cin, cout],
    geometry.strides,
    geometry.dilations,
    geometry.padding,
  );
  if (info.outWidth !== positions || info.outHeight !== 1) return null;
  // (two views read at once: nothing is allocated on the backend in between)
  const r = conv1dPerExample(hostView(input), hostView(outputGradient) as Float32Array, {
    n,
    len,
    cin,
    positions,
    cout,
    kernelSize: kw,
    stride: geometry.strides[1],
    dilation: geometry.dilations[1],
    padLeft: info.padInfo.left,
    bias: useBias,
  });
  if (r === null) return null;
  const kernelSize = kw * cin * cout;
  const host = (w: ArrayLike<number>): Float32Array[] => {
    const sum = r.weightedSum(w);
    return useBias ? [sum.slice(0, kernelSize), sum.slice(kernelSize)] : [sum];
  };
  return {
    squaredNorms: tf.tensor1d(r.squaredNorms),
    weightedSum(w) {
      const [kernel, bias] = host(w.dataSync());
      return bias ? [tf.tensor(kernel, kernelShape), tf.tensor1d(bias)] : [tf.tensor(kernel, kernelShape)];
    },
    weightedSumHost: host,
  };
}

function weightsOf(layer: tf.layers.Layer): tf.LayerVariable[] {
  const c = parts(layer);
  return c.useBias && c.bias ? [c.kernel, c.bias] : [c.kernel];
}

/** The Conv2D rule. */
export const conv2dRule: LayerRule = {
  classNames: ["Conv2D"],
  check: checkConvConfig,
  weights: weightsOf,
  linear(layer, input) {
    const c = parts(layer);
    const g = convGeometry(layer, c.kernel.read().shape);
    const bias = c.useBias && c.bias ? c.bias.read() : null;
    if (g.dilations[0] === 1 && g.dilations[1] === 1)
      return conv2dFast(input as tf.Tensor4D, c.kernel.read() as tf.Tensor4D, bias, g.strides, g.padding);
    const z = tf.conv2d(input as tf.Tensor4D, c.kernel.read() as tf.Tensor4D, g.strides, g.padding, "NHWC", g.dilations);
    return bias ? tf.add(z, bias) : z;
  },
  activate: applyLayerActivation,
  perExample(layer, { input, outputGradient, mode }) {
    const c = parts(layer);
    const kernelShape = c.kernel.read().shape;
    return convTerms(
      input as tf.Tensor4D,
      outputGradient as tf.Tensor4D,
      kernelShape,
      convGeometry(layer, kernelShape),
      c.useBias && c.bias !== null,
      mode,
    );
  },
};

/** The Conv1D rule (a height-1 Conv2D). */
export const conv1dRule: LayerRule = {
  classNames: ["Conv1D"],
  check: checkConvConfig,
  weights: weightsOf,
  linear(layer, input) {
    const c = parts(layer);
    const kernel = c.kernel.read();
    const g = convGeometry(layer, kernel.shape);
    const bias = c.useBias && c.bias ? c.bias.read() : null;
    if (g.dilations[1] === 1) {
      const [n, len, cin] = input.shape;
      const [k, , cout] = kernel.shape;
      const z4 = conv2dFast(
        tf.reshape(input, [n, 1, len, cin]) as tf.Tensor4D,
        tf.reshape(kernel, [1, k, cin, cout]) as tf.Tensor4D,
        bias,
        g.strides,
        g.padding,
      );
      return tf.reshape(z4, [n, z4.shape[2], cout]);
    }
    const z = tf.conv1d(input as tf.Tensor3D, kernel as tf.Tensor3D, g.strides[1], g.padding, "NWC", g.dilations[1]);
    return bias ? tf.add(z, bias) : z;
  },
  activate: applyLayerActivation,
  perExample(layer, { input, outputGradient, mode }) {
    const c = parts(layer);
    const kernelShape = c.kernel.read().shape;
    const [n, len, cin] = input.shape;
    const [, lo, cout] = outputGradient.shape;
    const geometry = convGeometry(layer, kernelShape);
    if (!useGhost(mode, lo, geometry.kernelWidth * cin, cout)) {
      const terms = conv1dKernelTerms(input, outputGradient, kernelShape, geometry, c.useBias && c.bias !== null);
      if (terms !== null) return terms;
    }
    return convTerms(
      tf.reshape(input, [n, 1, len, cin]) as tf.Tensor4D,
      tf.reshape(outputGradient, [n, 1, lo, cout]) as tf.Tensor4D,
      kernelShape,
      convGeometry(layer, kernelShape),
      c.useBias && c.bias !== null,
      mode,
    );
  },
};
