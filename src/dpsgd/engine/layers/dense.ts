/**
 * Per-example gradients of `tf.layers.dense`.
 *
 * With input `a` (`[N, d]`) and output gradient `g` (`[N, u]`), example i's kernel gradient is
 * the outer product `a_i g_i^T`, so its squared norm is `||a_i||^2 ||g_i||^2` (Goodfellow 2015),
 * and the bias gradient is `g_i`. For inputs with extra axes (`[N, T, d]`, e.g. sequences) the
 * gradient is `A_i^T G_i`, whose squared norm is `<A_i A_i^T, G_i G_i^T>` (ghost norm, Li et al.
 * 2021) or is computed from the materialised `[d, u]` matrix, whichever costs fewer flops.
 * The clipped sum is one matrix product of the recorded activations with the reweighted
 * gradients (book-keeping, Bu et al. 2023).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { LayerRule, PerExampleTerms } from "../layer-rule.js";
import { applyLayerActivation } from "./activation.js";
import { denseLinearFast, matMulTransposeA } from "./matmul.js";

interface DenseLike {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  useBias: boolean;
}

function parts(layer: tf.layers.Layer): DenseLike {
  return layer as unknown as DenseLike;
}

/** The Dense rule. */
export const denseRule: LayerRule = {
  classNames: ["Dense"],
  weights(layer) {
    const d = parts(layer);
    return d.useBias && d.bias ? [d.kernel, d.bias] : [d.kernel];
  },
  linear(layer, input) {
    const d = parts(layer);
    const kernel = d.kernel.read();
    const [din, units] = kernel.shape;
    const flat = input.rank === 2 ? input : tf.reshape(input, [-1, din]);
    const z = denseLinearFast(flat as tf.Tensor2D, kernel as tf.Tensor2D, d.useBias && d.bias ? d.bias.read() : null);
    return input.rank === 2 ? z : tf.reshape(z, [...input.shape.slice(0, -1), units]);
  },
  activate: applyLayerActivation,
  perExample(layer, { input, outputGradient, mode }): PerExampleTerms {
    const d = parts(layer);
    const useBias = d.useBias && d.bias !== null;
    const kernelShape = d.kernel.read().shape;
    const [din, units] = kernelShape;
    const n = input.shape[0];
    if (input.rank === 2) {
      const a = input as tf.Tensor2D;
      const g = outputGradient as tf.Tensor2D;
      const gSq = tf.sum(tf.square(g), 1);
      let sq = tf.mul(tf.sum(tf.square(a), 1), gSq);
      if (useBias) sq = tf.add(sq, gSq);
      return {
        squaredNorms: sq as tf.Tensor1D,
        weightedSum(w) {
          const gw = tf.mul(g, tf.reshape(w, [n, 1]));
          const out: tf.Tensor[] = [matMulTransposeA(a, gw as tf.Tensor2D)];
          if (useBias) out.push(tf.sum(gw, 0));
          return out;
        },
      };
    }
    const steps = input.size / (n * din);
    const a3 = tf.reshape(input, [n, steps, din]) as tf.Tensor3D;
    const g3 = tf.reshape(outputGradient, [n, steps, units]) as tf.Tensor3D;
    const ghostCost = steps * steps * (din + units);
    const materializeCost = steps * din * units;
    const ghost = mode === "ghost" || (mode === "auto" && ghostCost < materializeCost);
    const biasPer = useBias ? tf.sum(g3, 1) : null;
    let sq: tf.Tensor;
    let perExampleKernel: tf.Tensor | null = null;
    if (ghost) {
      const aa = tf.matMul(a3, a3, false, true);
      const gg = tf.matMul(g3, g3, false, true);
      sq = tf.sum(tf.reshape(tf.mul(aa, gg), [n, -1]), 1);
    } else {
      perExampleKernel = tf.reshape(tf.matMul(a3, g3, true, false), [n, din * units]);
      sq = tf.sum(tf.square(perExampleKernel), 1);
    }
    if (biasPer) sq = tf.add(sq, tf.sum(tf.square(biasPer), 1));
    return {
      squaredNorms: sq as tf.Tensor1D,
      weightedSum(w) {
        const w2 = tf.reshape(w, [1, n]);
        let kernelGrad: tf.Tensor;
        if (perExampleKernel) {
          kernelGrad = tf.reshape(tf.matMul(w2, perExampleKernel as tf.Tensor2D), kernelShape);
        } else {
          const gw = tf.reshape(tf.mul(g3, tf.reshape(w, [n, 1, 1])), [n * steps, units]);
          kernelGrad = matMulTransposeA(tf.reshape(a3, [n * steps, din]) as tf.Tensor2D, gw as tf.Tensor2D);
        }
        const out = [kernelGrad];
        if (biasPer) out.push(tf.reshape(tf.matMul(w2, biasPer as tf.Tensor2D), [units]));
        return out;
      },
    };
  },
};
