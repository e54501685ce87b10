/**
 * Per-example gradients of `tf.layers.depthwiseConv2d` (channels last).
 *
 * Channel c of the output reads only channel c of the input, so with the unfolded input
 * `U_i[p, (ky,kx), c]` and the output gradient `G_i[p, c, m]` example i's kernel gradient is, per
 * channel, `U_{i,c}^T G_{i,c}` (`[kh·kw, M]`). These are materialised (one batched matrix product
 * over N·C) and reused for the clipped sum; the bias gradient is `sum_p G_i[p]`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LayerRule } from "../layer-rule.js";
import { applyLayerActivation } from "./activation.js";
import { checkConvConfig, convGeometry } from "./conv.js";
import { unfold } from "./unfold.js";

interface DepthwiseLike {
  depthwiseKernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  useBias: boolean;
}

function parts(layer: tf.layers.Layer): DepthwiseLike {
  return layer as unknown as DepthwiseLike;
}

/** The DepthwiseConv2D rule. */
export const depthwiseConv2dRule: LayerRule = {
  classNames: ["DepthwiseConv2D"],
  check: checkConvConfig,
  weights(layer) {
    const d = parts(layer);
    return d.useBias && d.bias ? [d.depthwiseKernel, d.bias] : [d.depthwiseKernel];
  },
  linear(layer, input) {
    const d = parts(layer);
    const g = convGeometry(layer, d.depthwiseKernel.read().shape);
    let z: tf.Tensor = tf.depthwiseConv2d(input as tf.Tensor4D, d.depthwiseKernel.read() as tf.Tensor4D, g.strides, g.padding, "NHWC", g.dilations);
    if (d.useBias && d.bias) z = tf.add(z, d.bias.read());
    return z;
  },
  activate: applyLayerActivation,
  perExample(layer, { input, outputGradient }) {
    const d = parts(layer);
    const kernelShape = d.depthwiseKernel.read().shape; // [kh, kw, C, M]
    const [kh, kw, c, m] = kernelShape;
    const kk = kh * kw;
    const { patches, outHeight, outWidth } = unfold(input as tf.Tensor4D, convGeometry(layer, kernelShape));
    const n = input.shape[0];
    const p = outHeight * outWidth;
    const u = tf.reshape(tf.transpose(tf.reshape(patches, [n, p, kk, c]), [0, 3, 2, 1]), [n * c, kk, p]) as tf.Tensor3D;
    const g = tf.reshape(tf.transpose(tf.reshape(outputGradient, [n, p, c, m]), [0, 2, 1, 3]), [n * c, p, m]) as tf.Tensor3D;
    const per = tf.reshape(tf.matMul(u, g), [n, c * kk * m]) as tf.Tensor2D; // (c, kk, m)
    let sq: tf.Tensor = tf.sum(tf.square(per), 1);
    const useBias = d.useBias && d.bias !== null;
    const biasPer = useBias ? (tf.sum(tf.reshape(outputGradient, [n, p, c * m]), 1) as tf.Tensor2D) : null;
    if (biasPer) sq = tf.add(sq, tf.sum(tf.square(biasPer), 1));
    return {
      squaredNorms: sq as tf.Tensor1D,
      weightedSum(w) {
        const w2 = tf.reshape(w, [1, n]) as tf.Tensor2D;
        const summed = tf.reshape(tf.matMul(w2, per), [c, kk, m]);
        const out = [tf.reshape(tf.transpose(summed, [1, 0, 2]), kernelShape)];
        if (biasPer) out.push(tf.reshape(tf.matMul(w2, biasPer), [c * m]));
        return out;
      },
    };
  },
};
