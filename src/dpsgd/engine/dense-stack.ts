/**
 * The fused route for a stack of Dense layers (an MLP) on the host backends (wasm, cpu): when the
 * model is a chain of Dense layers (optionally after a `Flatten`) with linear / relu / tanh /
 * sigmoid activations (softmax allowed on the last) and the loss is one of dpkit's named losses,
 * the whole per-example clipping step — forward, loss gradient, backward deltas, per-example
 * norms, clip factors, clipped sums — runs on typed arrays in ../kernels/dense-stack.ts instead of
 * through tfjs kernels: no dispatch, no tensor allocation, the weights read once. The maths is the
 * Dense rule's (./layers/dense.ts) and the clip factors are the engine's own
 * ({@link clipWeights}); only the order of the float operations and the activations' last bits
 * differ (tanh and sigmoid are evaluated in f64 and rounded once: within 0.503 ulp of the exact
 * value over a dense grid, where tfjs's own kernels are not specified).
 *
 * Anything else — other layers, masks, Dropout, graph models, a loss function, labels that are not
 * class indices, inputs that are not float32, other backends — takes the engine's general route
 * unchanged, and so does a batch with a non-finite per-example gradient (the general route zeroes
 * those examples).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type DenseStackActivation,
  type DenseStackLayer,
  type DenseStackLoss,
  DenseStackStep,
  denseStackAvailable,
  markDenseStackSubphase,
} from "../kernels/dense-stack.js";
import type { ModelPlan } from "./check-model.js";
import { clipWeights } from "./clip-weights.js";
import type { FastArgs, FastClippedGradients } from "./fast.js";
import { hostView, onHostBackend } from "./host-view.js";
import { denseRule, sparseDenseInputOptions } from "./layers/dense.js";
import { markEnginePhase } from "./phase-hook.js";

/** Switches of the fused Dense-stack route (benchmarks and tests). @internal */
export interface DenseStackRouteOptions {
  /** Take the fused route where it applies. Default true. */
  enabled: boolean;
}

const routeOptions: DenseStackRouteOptions = { enabled: true };

/**
 * Steps taken on the fused route, and steps that started on it but went back to the general route
 * because an example's gradient was not finite, since the last reset (tests check the route). @internal
 */
export const denseStackCalls = { taken: 0, nonFinite: 0 };

/** Changes the fused route's switches; returns the previous ones. @internal */
export function setDenseStackRoute(options: Partial<DenseStackRouteOptions>): DenseStackRouteOptions {
  const previous = { ...routeOptions };
  Object.assign(routeOptions, options);
  return previous;
}

const ACTIVATIONS: readonly string[] = ["linear", "relu", "tanh", "sigmoid"];

interface StackLayer {
  layer: tf.layers.Layer;
  variables: tf.LayerVariable[];
  activation: DenseStackActivation;
}

/** The plan's Dense layers if the model is a stack the fused route covers, else null. */
export function denseStackLayers(model: tf.LayersModel, plan: ModelPlan): StackLayer[] | null {
  if (plan.graph) return null;
  const steps = plan.steps[0]?.layer.getClassName() === "Flatten" ? plan.steps.slice(1) : plan.steps;
  if (steps.length === 0) return null;
  const out: StackLayer[] = [];
  let weights = 0;
  for (let k = 0; k < steps.length; k++) {
    const { layer, rule } = steps[k];
    if (rule !== denseRule || layer.getClassName() !== "Dense") return null;
    const act = (layer as unknown as { activation?: { getClassName?(): string } | null }).activation;
    const name = act == null ? "linear" : (act.getClassName?.() ?? "?");
    const last = k === steps.length - 1;
    if (!ACTIVATIONS.includes(name) && !(last && name === "softmax")) return null;
    const variables = rule.weights(layer);
    if (variables[0].shape.length !== 2) return null;
    weights += variables.length;
    out.push({ layer, variables, activation: name as DenseStackActivation });
  }
  return weights === model.trainableWeights.length ? out : null;
}

/** The loss in the fused step's terms, with its targets read from `y`; null if the route does not cover it. */
function stackLoss(loss: FastArgs["loss"], y: tf.Tensor, n: number, c: number): DenseStackLoss | null {
  let name: string;
  let logits = false;
  if (typeof loss === "string") name = loss;
  else if (typeof loss === "object" && loss !== null && loss.fromLogits === true) {
    name = loss.name;
    logits = true;
  } else return null;
  if (name === "sparseCategoricalCrossentropy") {
    if (y.size !== n || !(y.rank === 1 || (y.rank === 2 && y.shape[1] === 1))) return null;
    const v = hostView(y);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const l = v[i];
      if (!Number.isInteger(l) || l < 0 || l >= c) return null;
      labels[i] = l;
    }
    return { kind: logits ? "ceLogits" : "ce", labels };
  }
  if (y.rank !== 2 || y.shape[0] !== n || y.shape[1] !== c || (y.dtype !== "float32" && y.dtype !== "int32")) return null;
  const targets = Float32Array.from(hostView(y));
  switch (name) {
    case "categoricalCrossentropy":
      return { kind: logits ? "ceLogits" : "ce", targets };
    case "binaryCrossentropy":
      return { kind: logits ? "bceLogits" : "bce", targets };
    case "meanSquaredError":
      return logits ? null : { kind: "mse", targets };
    default:
      return null;
  }
}

/**
 * The engine's {@link fastClippedGradients} for a Dense stack on the fused route, or null where
 * the route does not apply (the caller then takes the general route). @internal
 */
export function denseStackClippedGradients(args: FastArgs): FastClippedGradients | null {
  if (!routeOptions.enabled || !onHostBackend() || !denseStackAvailable()) return null;
  const { model, plan, x, y, loss, l2NormClip } = args;
  const stack = denseStackLayers(model, plan);
  if (stack === null || x.dtype !== "float32" || x.rank < 2) return null;
  const flatten = stack[0].layer !== plan.steps[0].layer;
  if (x.rank !== 2 && !flatten) return null;
  const n = x.shape[0] as number;
  const dIn = x.size / Math.max(1, n);
  const kernels = stack.map((s) => s.variables[0].read());
  if (kernels[0].shape[0] !== dIn) return null;
  const units = kernels.map((k) => k.shape[1] as number);
  const c = units[units.length - 1];
  const stackLossSpec = stackLoss(loss, y, n, c);
  if (stackLossSpec === null) return null;
  markDenseStackSubphase("route checks");
  const sparse = sparseDenseInputOptions();
  const trySparse = sparse.enabled && n * dIn * units[0] >= sparse.minWork;
  // The views (wasm heap) are read at once: the step copies x and every weight into its own memory
  // before anything else allocates on the backend.
  const layers: DenseStackLayer[] = stack.map((s, k) => ({
    kernel: hostView(kernels[k]),
    bias: s.variables.length > 1 ? hostView(s.variables[1].read()) : null,
    units: units[k],
    activation: s.activation,
  }));
  let step: DenseStackStep;
  try {
    step = new DenseStackStep(hostView(x), n, dIn, layers, stackLossSpec, { maxDensity: trySparse ? sparse.maxDensity : null });
  } catch (e) {
    // The module's memory could not grow (a batch or layer too large for it): the general route.
    if (e instanceof RangeError) return null;
    throw e;
  }
  step.forward();
  markEnginePhase("forward");
  step.backward();
  markEnginePhase("backward");
  const sq = step.squaredNorms();
  markEnginePhase("norms");
  const factors = clipWeights(sq, l2NormClip);
  if (factors.anyNonFinite) {
    denseStackCalls.nonFinite++;
    return null;
  }
  markEnginePhase("clipFactors");
  const output = args.keepOutput ? tf.tensor2d(step.output(), [n, c]) : undefined;
  const lossSum = step.lossSum;
  markDenseStackSubphase("output, loss sum");
  const sums = step.clippedSums(factors.weights);
  const clippedSum: tf.NamedTensorMap = {};
  const hostSums: Record<string, Float32Array> = {};
  let at = 0;
  for (const s of stack) {
    for (const v of s.variables) {
      const name = (v.read() as tf.Variable).name;
      if (args.hostSums === true) hostSums[name] = sums[at];
      else clippedSum[name] = tf.tensor(sums[at], v.shape as number[], "float32");
      at++;
    }
  }
  markDenseStackSubphase("sums handed over");
  markEnginePhase("clippedSum");
  denseStackCalls.taken++;
  return { clippedSum, hostSums, norms: factors.norms, lossValue: n > 0 ? lossSum / n : 0, batchSize: n, output };
}
