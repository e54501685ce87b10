/**
 * `clippedGradients`: the sum of per-example gradients, each clipped to an L2 norm, computed
 * without one backward pass per example.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requireObject, requireOneOf, requirePositive } from "../../errors.js";
import { registerDpkitWasmKernels } from "../kernels/register.js";
import { checkModelSupported, planModel } from "./check-model.js";
import { type FastClippedGradients, fastClippedGradients } from "./fast.js";
import { naiveClippedGradients } from "./naive.js";
import type { ClippedGradients, ClippedGradientsOptions, ClippingStrategy } from "./types.js";

const STRATEGIES: readonly ClippingStrategy[] = ["auto", "ghost", "materialize", "naive"];

/**
 * Computes `sum_i clip(grad_i, l2NormClip)` over a batch, where `grad_i` is the gradient of
 * example i's loss with respect to all trainable weights of the model and
 * `clip(g, C) = g · min(1, C / ||g||)`, plus each example's norm.
 *
 * @remarks
 * This is the clipping half of a DP-SGD step (Abadi et al. 2016): after it each example changes
 * the sum by at most `l2NormClip` in L2 norm (add/remove-one neighbouring batches), the
 * sensitivity the Gaussian noise of the DP optimiser is calibrated to. Nothing here is private
 * by itself: noise is added by the optimiser.
 *
 * The default route records every layer's input `a` and the gradient `g` at its pre-activation
 * output in one forward and one backward pass, computes per-example norms per layer (ghost norms
 * `||a_i||·||g_i||` for dense layers, Gram matrices or unfolded convolutions, chosen per layer by
 * cost), and forms the clipped sum from the same `a` and `g` reweighted by the clip factors: no
 * per-example backward pass. `strategy: "naive"` instead runs one backward pass per example.
 *
 * Non-finite per-example gradients are zeroed before clipping (they contribute nothing) and their
 * norm is reported as `Infinity`. Layers run in training mode (Dropout active) unless
 * `training: false`. Regularisation losses of the layers are not included (they do not depend on
 * the data: add their gradient after noising if wanted).
 *
 * @param options - model, batch `x`/`y`, per-example loss, `l2NormClip`, strategy
 * @returns the clipped sum keyed like `tf.variableGrads` (the caller disposes it), the norms,
 * the mean loss and the batch size
 * @throws DpError `invalid_parameter` for a bad `l2NormClip`, strategy, loss, mismatched batch
 * sizes or a model without trainable weights; `unsupported_layer` naming a layer without a rule
 * (or BatchNormalization)
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { clippedGradients } from "dpkit/dpsgd";
 * const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, activation: "softmax" })] });
 * const x = tf.tensor2d([[1, 2, 3], [0, 1, 0]]);
 * const y = tf.tensor1d([0, 1]);
 * const { clippedSum, norms } = clippedGradients({ model, x, y, loss: "sparseCategoricalCrossentropy", l2NormClip: 1 });
 * console.log(norms); // each example's gradient norm before clipping
 * tf.dispose(clippedSum);
 * ```
 * @see Li, Tramèr, Liang, Hashimoto 2021, "Large Language Models Can Be Strong Differentially Private Learners" (ghost clipping), https://arxiv.org/abs/2110.05679
 * @see Bu, Wang, Zha, Karypis 2023, "Differentially Private Optimization on Large Model at Small Cost" (book-keeping), https://arxiv.org/abs/2210.00038
 */
export function clippedGradients(options: ClippedGradientsOptions): ClippedGradients {
  return clippedGradientsWithHostSums(options, false);
}

/**
 * {@link clippedGradients}, where with `hostSums` the sums that a rule forms on the host come
 * back as arrays in `hostSums` instead of tensors in `clippedSum` (the DP step's route: it noises
 * them in place). @internal
 */
export function clippedGradientsWithHostSums(options: ClippedGradientsOptions, hostSums: boolean): FastClippedGradients {
  requireObject<ClippedGradientsOptions>("options", options);
  const { model, x, y, loss } = options;
  const l2NormClip = requirePositive("l2NormClip", options.l2NormClip);
  const strategy = requireOneOf("strategy", options.strategy ?? "auto", STRATEGIES);
  const training = options.training ?? true;
  if (!(x instanceof tf.Tensor)) throw new DpError("invalid_parameter", "`x` must be a tf.Tensor.", "x");
  if (!(y instanceof tf.Tensor)) throw new DpError("invalid_parameter", "`y` must be a tf.Tensor.", "y");
  if (x.rank === 0 || y.rank === 0 || x.shape[0] !== y.shape[0]) {
    throw new DpError(
      "invalid_parameter",
      `\`x\` and \`y\` must have the same number of examples (first axis). Found [${x.shape.join(", ")}] and [${y.shape.join(", ")}].`,
      "y",
    );
  }
  if (typeof loss !== "function" && typeof loss !== "string" && (typeof loss !== "object" || loss === null)) {
    throw new DpError("invalid_parameter", "`loss` must be a loss name, { name, fromLogits: true } or a function.", "loss");
  }
  checkModelSupported(model, { strategy });
  if (tf.getBackend() === "wasm") registerDpkitWasmKernels();
  const n = x.shape[0];
  if (n === 0) {
    const clippedSum: tf.NamedTensorMap = {};
    for (const w of model.trainableWeights) clippedSum[(w.read() as tf.Variable).name] = tf.zeros(w.read().shape);
    return { clippedSum, hostSums: {}, norms: new Float32Array(0), lossValue: 0, batchSize: 0 };
  }
  const keepOutput = options.keepOutput === true;
  if (strategy === "naive") return { ...naiveClippedGradients({ model, x, y, loss, l2NormClip, training, keepOutput }), hostSums: {} };
  return fastClippedGradients({ model, plan: planModel(model), x, y, loss, l2NormClip, mode: strategy, training, keepOutput, hostSums });
}
