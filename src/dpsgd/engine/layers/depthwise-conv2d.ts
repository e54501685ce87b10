/**
 * Per-example gradients of `tf.layers.depthwiseConv2d` (channels last).
 *
 * Channel c of the output reads only channel c of the input, so example i's kernel gradient is,
 * per channel, the correlation of input channel c with output-gradient channels (c, m). All of
 * them come from one depthwise convolution with examples × channels as channels (see
 * per-example-conv.ts), materialised (`[kh·kw, N, C·M]`, as large as N kernels) and reused for
 * the clipped sum; the bias gradient is `sum_p G_i[p]`.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LayerRule } from "../layer-rule.js";
import { applyLayerActivation } from "./activation.js";
import { checkConvConfig, convGeometry, materializedTerms } from "./conv.js";
import { perExampleDepthwiseKernelGradients } from "./per-example-conv.js";

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
    let z: tf.Tensor = tf.depthwiseConv2d(
      input as tf.Tensor4D,
      d.depthwiseKernel.read() as tf.Tensor4D,
      g.strides,
      g.padding,
      "NHWC",
      g.dilations,
    );
    if (d.useBias && d.bias) z = tf.add(z, d.bias.read());
    return z;
  },
  activate: applyLayerActivation,
  perExample(layer, { input, outputGradient }) {
    const d = parts(layer);
    const kernelShape = d.depthwiseKernel.read().shape; // [kh, kw, C, M]
    const per = perExampleDepthwiseKernelGradients(input as tf.Tensor4D, outputGradient as tf.Tensor4D, convGeometry(layer, kernelShape));
    const [n, ho, wo, cm] = outputGradient.shape;
    const biasPer = d.useBias && d.bias !== null ? (tf.sum(tf.reshape(outputGradient, [n, ho * wo, cm]), 1) as tf.Tensor2D) : null;
    return materializedTerms(per, biasPer, (summed) => tf.reshape(summed, kernelShape));
  },
};
