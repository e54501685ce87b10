/**
 * The fast route: one forward pass that records each layer's input `a` and one backward pass
 * that yields the gradient `g` of the summed per-example losses with respect to each layer's
 * pre-activation output (tfjs autodiff with respect to zero "probes" added to those outputs,
 * so no weight gradient is formed); per-layer rules turn `(a, g)` into per-example squared norms
 * (summed over layers) and, after the clip factors `w_i = min(1, C / norm_i)` are known, into the
 * clipped sum `sum_i w_i grad_i` (book-keeping: no second backward pass, no per-example pass).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../errors.js";
import type { ModelPlan, PlanStep } from "./check-model.js";
import { clipWeights } from "./clip-weights.js";
import { denseStackClippedGradients } from "./dense-stack.js";
import type { NormMode, PerExampleTerms } from "./layer-rule.js";
import { perExampleLoss } from "./losses.js";
import { unsavedOpsEnabled } from "./layers/activation.js";
import { withSharedIdentity } from "../kernels/shared-identity.js";
import { markEnginePhase } from "./phase-hook.js";
import type { ClippedGradients, PerExampleLoss } from "./types.js";

/** Arguments of {@link fastClippedGradients}. @internal */
export interface FastArgs {
  model: tf.LayersModel;
  plan: ModelPlan;
  x: tf.Tensor;
  y: tf.Tensor;
  loss: PerExampleLoss;
  l2NormClip: number;
  mode: NormMode;
  training: boolean;
  keepOutput?: boolean;
  /**
   * Return the sums of rules that form them on the host (`weightedSumHost`) as host arrays in
   * `hostSums` (and not in `clippedSum`): the DP step noises them in place, saving an upload and
   * a download of each. Default false.
   */
  hostSums?: boolean;
}

/** {@link ClippedGradients} with the sums returned as host arrays (see {@link FastArgs.hostSums}). @internal */
export interface FastClippedGradients extends ClippedGradients {
  hostSums: Record<string, Float32Array>;
}

const shapeCache = new WeakMap<tf.LayersModel, Map<string, number[][]>>();

type Mask = tf.Tensor | null;

interface MaskingLayer {
  computeMask(input: tf.Tensor | tf.Tensor[], mask?: Mask | Mask[]): Mask | Mask[];
}

function applyStateless(layer: tf.layers.Layer, input: tf.Tensor | tf.Tensor[], mask: Mask | Mask[], training: boolean): tf.Tensor {
  if (layer.getClassName() === "GlobalAveragePooling1D" && !Array.isArray(input) && input.rank === 3) return meanOverSteps(input);
  const kwargs: Record<string, unknown> = { training };
  if (hasMask(mask)) kwargs.mask = mask;
  return layer.apply(input, kwargs) as tf.Tensor;
}

/**
 * `GlobalAveragePooling1D` (`tf.mean(x, 1)`, which ignores masks as the layer does) with tfjs's own
 * `Mean` gradient, (dy·ones(x.shape))/T — formed as (dy/T)·ones, the same bits with the divide on
 * the `[n, 1, d]` tensor — except that the ones are filled on the backend (`tf.fill`)
 * where tfjs builds them in JS and uploads them (1 MB per step for a [256, 64, 16] embedding output
 * on wasm). The same gradient bit for bit (test/dpsgd/engine/mean-over-steps.test.ts). (tile(dy/T) gives the
 * same values too, but tfjs-wasm's Tile is a slow generic loop: about 15 ms here.)
 * @internal
 */
export const meanOverSteps = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  const [n, steps, d] = x.shape;
  return {
    value: tf.mean(x, 1),
    // (dy/T)·1 = (dy·1)/T exactly: the divide runs on [n, 1, d], not on the broadcast [n, T, d]
    gradFunc: (dy: tf.Tensor) => tf.mul(tf.div(tf.reshape(dy, [n, 1, d]), steps), tf.fill(x.shape, 1)),
  };
}) as (x: tf.Tensor) => tf.Tensor;

/**
 * `z + probe` for the per-layer probe whose gradient is the layer's output gradient: tfjs's `Add`
 * saves both inputs for its backward pass (`inputsToSave`), and on the tape every saved tensor is
 * cloned — on wasm a full copy of the layer's pre-activation, twice per trained layer per step
 * (3.8 MB at batch 256 for the small CNN). Here nothing is saved: the gradient of each input is
 * `dy` itself (same shapes, no broadcast), the second as a reshape (a new tensor on the same data,
 * not a copy). The same values and bits as `tf.add`. @internal
 */
const addSameShape = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const z = args[0] as tf.Tensor;
  const probe = args[1] as tf.Tensor;
  return {
    value: tf.add(z, probe),
    gradFunc: (dy: tf.Tensor) => [dy, tf.reshape(dy, probe.shape)],
  };
}) as (z: tf.Tensor, probe: tf.Tensor) => tf.Tensor;

/** {@link addSameShape} where the shapes agree (always, for the engine's probes), else `tf.add`. @internal */
export function addProbe(z: tf.Tensor, probe: tf.Tensor): tf.Tensor {
  return z.dtype === "float32" && probe.dtype === "float32" && tf.util.arraysEqual(z.shape, probe.shape)
    ? addSameShape(z, probe)
    : tf.add(z, probe);
}

function hasMask(mask: Mask | Mask[]): boolean {
  return Array.isArray(mask) ? mask.some((m) => m != null) : mask != null;
}

/** The mask a layer passes on (Keras semantics: `layer.computeMask`), or null. */
function outputMask(layer: tf.layers.Layer, input: tf.Tensor | tf.Tensor[], mask: Mask | Mask[]): Mask {
  const out = (layer as unknown as MaskingLayer).computeMask(input, hasMask(mask) ? mask : undefined);
  const m = Array.isArray(out) ? out[0] : out;
  return m ?? null;
}

/**
 * Runs the plan on `x`: stateless (and frozen) layers as they are, trained layers through
 * `trained(step, input, k, mask)` (k counts trained layers). Chains feed each layer the previous
 * output; graphs look inputs up by symbolic tensor id. Keras masks (from `Embedding` with
 * `maskZero`, `Masking`) travel along with the values, as in `model.apply`.
 */
function executePlan(
  plan: ModelPlan,
  x: tf.Tensor,
  training: boolean,
  trained: (step: PlanStep, input: tf.Tensor, k: number, mask: Mask) => tf.Tensor,
  skip?: number,
): tf.Tensor {
  const values = new Map<number, tf.Tensor>();
  const masks = new Map<number, Mask>();
  if (plan.graph) values.set(plan.graph.inputId, x);
  let a = x;
  let mask: Mask = null;
  let k = 0;
  for (const [index, step] of plan.steps.entries()) {
    if (index === skip) {
      // (a chain's GlobalAveragePooling1D whose mean the layer before formed: see fastClippedGradients)
      mask = null;
      continue;
    }
    let input: tf.Tensor | tf.Tensor[] = a;
    let maskIn: Mask | Mask[] = mask;
    if (step.inputIds) {
      const ins = step.inputIds.map((id) => {
        const v = values.get(id);
        if (!v) throw new DpError("invalid_state", `Layer "${step.layer.name}" reads a tensor not computed yet.`, "model");
        return v;
      });
      const ms = step.inputIds.map((id) => masks.get(id) ?? null);
      input = ins.length === 1 ? ins[0] : ins;
      maskIn = ms.length === 1 ? ms[0] : ms;
    }
    a = step.rule ? trained(step, input as tf.Tensor, k++, maskIn as Mask) : applyStateless(step.layer, input, maskIn, training);
    mask = outputMask(step.layer, input, maskIn);
    if (step.outputId !== undefined) {
      values.set(step.outputId, a);
      masks.set(step.outputId, mask);
    }
  }
  if (plan.graph) {
    const out = values.get(plan.graph.outputId);
    if (!out) throw new DpError("invalid_state", "The model's output was not computed.", "model");
    return out;
  }
  return a;
}

/** Per-example shapes (without the batch axis) of each trained layer's pre-activation output. */
function probeShapes(model: tf.LayersModel, plan: ModelPlan, x: tf.Tensor): number[][] {
  let byModel = shapeCache.get(model);
  if (!byModel) {
    byModel = new Map();
    shapeCache.set(model, byModel);
  }
  const key = `${x.shape.slice(1).join("x")}|${plan.steps.map((s) => s.layer.name).join(",")}`;
  const hit = byModel.get(key);
  if (hit) return hit;
  const shapes = tf.tidy(() => {
    const out: number[][] = [];
    executePlan(plan, tf.slice(x, [0], [1]), false, (step, a, _k, mask) => {
      const z = step.rule!.linear(step.layer, a, mask);
      out.push(z.shape.slice(1));
      return step.rule!.activate(step.layer, z, mask);
    });
    return out;
  });
  byModel.set(key, shapes);
  return shapes;
}

/** Per-example clipped gradient sum through the per-layer rules. @internal */
export function fastClippedGradients(args: FastArgs): FastClippedGradients {
  // tfjs's clones of the tensors saved for the backward pass share their buffers (no copy on wasm).
  return withSharedIdentity(() => fastClippedGradientsShared(args));
}

function fastClippedGradientsShared(args: FastArgs): FastClippedGradients {
  // A stack of Dense layers takes the fused route (./dense-stack.ts) where it applies.
  const fused = denseStackClippedGradients(args);
  if (fused) return fused;
  const { model, plan, x, y, loss, l2NormClip, mode, training } = args;
  let output: tf.Tensor | undefined;
  const n = x.shape[0];
  const trained = plan.steps.filter((s) => s.rule);
  const shapes = probeShapes(model, plan, x);
  const inputs: tf.Tensor[] = [];
  const inputMasks: Mask[] = [];
  const keptHere: tf.Tensor[] = [];
  let norms: Float32Array = new Float32Array(0);
  let lossSum = 0;
  const hostSums: Record<string, Float32Array> = {};
  // Tensors kept until the step ends: each rule's input and mask (read again after the tape), and those
  // an activation's gradient closes over (instead of tfjs saving a clone).
  const keepUntilStepEnds = (t: tf.Tensor): void => {
    if (keptHere.includes(t)) return;
    tf.keep(t);
    keptHere.push(t);
  };
  const unsaved = unsavedOpsEnabled();
  const keep = unsaved ? keepUntilStepEnds : undefined;
  const add = unsaved ? addProbe : tf.add;
  try {
    const result = tf.tidy(() => {
      // When the model's first layer is trained and reads the input itself, its linear part
      // depends on nothing the backward pass differentiates: it runs here, before the tape, and
      // its output z is differentiated directly (no probe, and tfjs saves nothing for the
      // backward pass of it — for an Embedding that is a copy of the table).
      const first = plan.steps[0];
      const direct =
        first?.rule !== undefined &&
        (first.inputIds === undefined || (first.inputIds.length === 1 && first.inputIds[0] === plan.graph?.inputId));
      // An Embedding followed by GlobalAveragePooling1D in a chain (a mean over every step, as
      // meanOverSteps): the rule may form the mean directly (no [N, T, D] lookup, no broadcast
      // gradient); the pooling step is then skipped and the rule gets the gradient of the mean.
      const next = plan.steps[1];
      const canPool =
        direct &&
        plan.graph === undefined &&
        next !== undefined &&
        next.rule === undefined &&
        next.layer.getClassName() === "GlobalAveragePooling1D";
      const pooled = canPool ? (first.rule!.linearMeanOverSteps?.(first.layer, x) ?? null) : null;
      const z0 = direct ? (pooled ?? first.rule!.linear(first.layer, x, null)) : undefined;
      // (tf.fill runs the backend's Fill kernel; tf.zeros would build the zeros in JS and upload them)
      const probes = shapes.map((s, k) => (k === 0 && z0 ? z0 : tf.fill([n, ...s], 0)));
      const forward = (...e: tf.Tensor[]): tf.Scalar => {
        const out = executePlan(
          plan,
          x,
          training,
          (step, a, k, mask) => {
            for (const t of [a, mask]) if (t && t !== x) keepUntilStepEnds(t);
            inputs.push(a);
            inputMasks.push(mask);
            if (k === 0 && z0) return step.rule!.activate(step.layer, e[0], mask, keep);
            return step.rule!.activate(step.layer, add(step.rule!.linear(step.layer, a, mask), e[k]), mask, keep);
          },
          pooled === null ? undefined : 1,
        );
        if (args.keepOutput) output = tf.keep(tf.clone(out));
        const total = tf.sum(perExampleLoss(loss, y, out)) as tf.Scalar;
        markEnginePhase("forward");
        return total;
      };
      const { value, grads } = tf.valueAndGrads(forward)(probes);
      lossSum = value.dataSync()[0];
      markEnginePhase("backward");
      let terms: PerExampleTerms[] = trained.map((step, k) =>
        step.rule!.perExample(step.layer, {
          input: inputs[k],
          outputGradient: grads[k],
          mode,
          mask: inputMasks[k],
          meanOverSteps: k === 0 && pooled !== null,
        }),
      );
      const sq = terms.length === 1 ? terms[0].squaredNorms : tf.addN(terms.map((t) => t.squaredNorms));
      const sqValues = sq.dataSync();
      markEnginePhase("norms");
      const factors = clipWeights(sqValues, l2NormClip);
      norms = factors.norms;
      if (factors.anyNonFinite) {
        // Zero the non-finite examples' activations and gradients so that 0 · NaN never enters the sum.
        const keep = tf.tensor1d(factors.finite, "bool");
        const clean = (t: tf.Tensor) => {
          const mask = tf.broadcastTo(tf.reshape(keep, [n, ...t.shape.slice(1).map(() => 1)]), t.shape);
          return tf.where(mask, t, tf.zerosLike(t));
        };
        terms = trained.map((step, k) =>
          step.rule!.perExample(step.layer, {
            input: clean(inputs[k]),
            outputGradient: clean(grads[k]),
            mode,
            mask: inputMasks[k],
            meanOverSteps: k === 0 && pooled !== null,
          }),
        );
      }
      markEnginePhase("clipFactors");
      const w = tf.tensor1d(factors.weights);
      const clippedSum: tf.NamedTensorMap = {};
      const trainable = new Set(model.trainableWeights.map((v) => (v.read() as tf.Variable).name));
      trained.forEach((step, k) => {
        const variables = step.rule!.weights(step.layer);
        const host = args.hostSums === true ? terms[k].weightedSumHost : undefined;
        const sums: (tf.Tensor | Float32Array)[] = host ? host.call(terms[k], factors.weights) : terms[k].weightedSum(w);
        variables.forEach((v, j) => {
          const name = (v.read() as tf.Variable).name;
          if (!trainable.has(name)) return;
          const s = sums[j];
          if (s instanceof Float32Array) hostSums[name] = s;
          else clippedSum[name] = s;
        });
      });
      for (const name of trainable) {
        if (!(name in clippedSum) && !(name in hostSums)) {
          throw new DpError("invalid_state", `No per-example gradient was computed for trainable weight "${name}".`, "model");
        }
      }
      markEnginePhase("clippedSum");
      // (only tensors leave the tidy: it walks every element of a returned typed array)
      return clippedSum;
    });
    return { clippedSum: result, hostSums, norms, lossValue: n > 0 ? lossSum / n : 0, batchSize: n, output };
  } catch (e) {
    output?.dispose();
    throw e;
  } finally {
    tf.dispose(keptHere);
  }
}
