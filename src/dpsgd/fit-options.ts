/**
 * What `makePrivate(...).fit` / `.fitDataset` do with `model.fit`'s options, the compiled
 * optimizer and loss, and tf.data datasets.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requirePositiveInteger } from "../errors.js";
import { perExampleLoss, type PerExampleLoss, type PerExampleLossName } from "./engine/index.js";
import { metricSums, type MetricSpec } from "./fit-metrics.js";

/** `model.fit` options that are honoured (see `PrivateFitArgs`). */
const FIT_ARGS = new Set([
  "epochs",
  "batchSize",
  "callbacks",
  "validationData",
  "validationSplit",
  "verbose",
  "shuffle",
  "classWeight",
  "initialEpoch",
  "stepsPerEpoch",
  "yieldEvery",
]);

/** `model.fit` options refused, with the reason. */
const REFUSED_FIT_ARGS: Record<string, string> = {
  sampleWeight:
    "per-example weights are not supported (tfjs's own fit does not support them either); use `classWeight` or a weighted loss function",
  validationSteps: "validation runs over all of `validationData`",
};

/**
 * Refuses unknown or unsupported `fit` options by name, and `shuffle: false`.
 * @internal
 */
export function checkFitArgs(args: object, known: Set<string> = FIT_ARGS, refused: Record<string, string> = REFUSED_FIT_ARGS): void {
  if (args === null || typeof args !== "object") throw new DpError("invalid_parameter", "`args` must be an object.", "args");
  for (const key of Object.keys(args)) {
    if ((args as Record<string, unknown>)[key] === undefined) continue;
    if (key in refused)
      throw new DpError("invalid_parameter", `The fit option \`${key}\` is not supported by dpkit's private fit: ${refused[key]}.`, key);
    if (!known.has(key)) {
      throw new DpError("invalid_parameter", `Unknown fit option \`${key}\` (dpkit's private fit honours ${[...known].join(", ")}).`, key);
    }
  }
  const shuffle = (args as { shuffle?: unknown }).shuffle;
  if (shuffle !== undefined && shuffle !== true) {
    throw new DpError(
      "invalid_parameter",
      `\`shuffle\` ${JSON.stringify(shuffle)} cannot be honoured: every DP-SGD batch is a fresh random sample of the training set (the privacy guarantee rests on it), so training is always in random order. Leave \`shuffle\` out or set it to true.`,
      "shuffle",
    );
  }
}

const DATASET_ARGS = new Set([
  "epochs",
  "batchSize",
  "callbacks",
  "validationData",
  "verbose",
  "classWeight",
  "initialEpoch",
  "stepsPerEpoch",
  "batchesPerEpoch",
  "yieldEvery",
  "datasetSize",
]);
const REFUSED_DATASET_ARGS: Record<string, string> = {
  validationBatches: "validation runs over all of `validationData`",
  validationBatchSize: "validation batches are fixed by dpkit",
};

/** Refuses unknown or unsupported `fitDataset` options by name. @internal */
export function checkFitDatasetArgs(args: object): void {
  checkFitArgs(args, DATASET_ARGS, REFUSED_DATASET_ARGS);
}

/**
 * A property `model.compile` sets (`optimizer`, `loss`, `metrics`), or undefined for a model never
 * compiled (tfjs's Sequential getters throw before compile).
 * @internal
 */
export function compiledProperty(model: tf.LayersModel, name: "optimizer" | "loss" | "metrics"): unknown {
  try {
    return (model as unknown as Record<string, unknown>)[name];
  } catch {
    return undefined;
  }
}

/** The optimizer to use: the one given, else the compiled one. @internal */
export function resolveOptimizer(model: tf.LayersModel, given: tf.Optimizer | undefined): tf.Optimizer {
  if (given !== undefined) {
    if (given === null || typeof given !== "object" || !(given instanceof tf.Optimizer))
      throw new DpError("invalid_parameter", "`optimizer` must be a tf.Optimizer (e.g. tf.train.sgd(0.1)).", "optimizer");
    return given;
  }
  const compiled = compiledProperty(model, "optimizer");
  if (compiled != null && compiled instanceof tf.Optimizer) return compiled;
  throw new DpError(
    "invalid_parameter",
    "Give `optimizer` (a tf.Optimizer, e.g. tf.train.sgd(0.1)) or compile the model with one.",
    "optimizer",
  );
}

const LOSS_NAMES: Record<string, PerExampleLossName> = {
  sparseCategoricalCrossentropy: "sparseCategoricalCrossentropy",
  sparse_categorical_crossentropy: "sparseCategoricalCrossentropy",
  categoricalCrossentropy: "categoricalCrossentropy",
  categorical_crossentropy: "categoricalCrossentropy",
  meanSquaredError: "meanSquaredError",
  mean_squared_error: "meanSquaredError",
  mse: "meanSquaredError",
  MSE: "meanSquaredError",
  binaryCrossentropy: "binaryCrossentropy",
  binary_crossentropy: "binaryCrossentropy",
};

/** The loss to use: the one given, else the compiled loss name. @internal */
export function resolveLoss(model: tf.LayersModel, given: PerExampleLoss | undefined): PerExampleLoss {
  if (given !== undefined) {
    if (typeof given !== "string" && typeof given !== "function" && (typeof given !== "object" || given === null)) {
      throw new DpError("invalid_parameter", "`loss` must be a loss name, { name, fromLogits: true } or a function.", "loss");
    }
    return given;
  }
  const compiled = compiledProperty(model, "loss");
  if (compiled === undefined) throw new DpError("invalid_parameter", "Give `loss` or compile the model with one.", "loss");
  if (typeof compiled === "string" && compiled in LOSS_NAMES) return LOSS_NAMES[compiled];
  throw new DpError(
    "invalid_parameter",
    `The model's compiled loss ${typeof compiled === "string" ? `"${compiled}"` : "(a function or several losses)"} has no per-example form in dpkit; give \`loss\` (${Object.values(
      LOSS_NAMES,
    )
      .filter((v, i, a) => a.indexOf(v) === i)
      .join(", ")}, { name, fromLogits: true } or a function returning one loss per example).`,
    "loss",
  );
}

/** The width of the model's output's last axis, or null if unknown. @internal */
export function outputWidth(model: tf.LayersModel): number | null {
  const shape = model.outputs[0]?.shape;
  const last = shape ? shape[shape.length - 1] : null;
  return typeof last === "number" ? last : null;
}

/** The last `fraction` of the examples held out, as tfjs's `validationSplit`. @internal */
export function splitForValidation(
  x: tf.Tensor,
  y: tf.Tensor,
  fraction: number,
): { x: tf.Tensor; y: tf.Tensor; valX: tf.Tensor; valY: tf.Tensor } {
  if (typeof fraction !== "number" || !(fraction > 0 && fraction < 1)) {
    throw new DpError("invalid_parameter", `\`validationSplit\` must be in (0, 1). Found ${String(fraction)}.`, "validationSplit");
  }
  const n = x.shape[0] ?? 0;
  const at = Math.floor(n * (1 - fraction));
  if (at < 1 || at >= n) {
    throw new DpError(
      "invalid_parameter",
      `\`validationSplit\` ${fraction} of ${n} examples leaves an empty training or validation set.`,
      "validationSplit",
    );
  }
  return { x: x.slice(0, at), y: y.slice(0, at), valX: x.slice(at), valY: y.slice(at) };
}

/**
 * The loss with each example's value multiplied by its class's weight (one label per example:
 * a class index, a one-hot row or a binary target).
 * @internal
 */
export function classWeightedLoss(loss: PerExampleLoss, classWeight: Record<number, number>, y: tf.Tensor): PerExampleLoss {
  if (classWeight === null || typeof classWeight !== "object" || Array.isArray(classWeight)) {
    throw new DpError("invalid_parameter", "`classWeight` must be an object { classIndex: weight } (one output).", "classWeight");
  }
  const entries = Object.entries(classWeight).map(([k, v]) => [Number(k), v] as const);
  for (const [k, v] of entries) {
    if (!Number.isInteger(k) || k < 0 || typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new DpError(
        "invalid_parameter",
        `\`classWeight\` must map class indices to finite weights >= 0. Found ${k}: ${String(v)}.`,
        "classWeight",
      );
    }
  }
  const name = typeof loss === "string" ? loss : typeof loss === "object" && loss !== null ? loss.name : undefined;
  const perExampleLabels = y.size / Math.max(1, y.shape[0] ?? 1);
  const oneHot = name === "categoricalCrossentropy";
  if (name === undefined || name === "meanSquaredError" || (!oneHot && perExampleLabels !== 1)) {
    throw new DpError("invalid_parameter", "`classWeight` needs a classification loss with one label per example.", "classWeight");
  }
  const classes = Math.max(...entries.map(([k]) => k), oneHot ? perExampleLabels - 1 : 1) + 1;
  const table = new Float32Array(classes).fill(1);
  for (const [k, v] of entries) table[k] = v;
  return (yTrue: tf.Tensor, yPred: tf.Tensor) =>
    tf.tidy(() => {
      const n = yPred.shape[0] ?? 0;
      const base = perExampleLoss(loss, yTrue, yPred);
      const labels = oneHot ? tf.argMax(tf.reshape(yTrue, [n, -1]), 1) : tf.cast(tf.round(tf.reshape(yTrue, [n])), "int32");
      const w = tf.gather(tf.tensor1d(table), tf.clipByValue(labels, 0, classes - 1));
      return tf.mul(base, w) as tf.Tensor1D;
    });
}

/** A function awaited at batch and epoch ends that gives the event loop a turn per `yieldEvery`. @internal */
export function makeYielder(yieldEvery: unknown): (at: "batch" | "epoch") => Promise<void> {
  const mode = yieldEvery ?? "auto";
  if (!(
    mode === "auto" ||
    mode === "batch" ||
    mode === "epoch" ||
    mode === "never" ||
    (typeof mode === "number" && Number.isFinite(mode) && mode >= 0)
  )) {
    throw new DpError(
      "invalid_parameter",
      `\`yieldEvery\` must be "auto", "batch", "epoch", "never" or a number of milliseconds. Found ${JSON.stringify(mode)}.`,
      "yieldEvery",
    );
  }
  const interval = mode === "auto" ? 125 : typeof mode === "number" ? mode : 0;
  let last = Date.now();
  return async (at) => {
    if (mode === "never") return;
    if (mode === "batch" || mode === "epoch") {
      if (mode === at) await tf.nextFrame();
      return;
    }
    if (at === "batch" && Date.now() - last >= interval) {
      await tf.nextFrame();
      last = Date.now();
    }
  };
}

/** Sums of each metric over `(x, y)`, in chunks, without gradients. @internal */
export function evaluateMetrics(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, specs: MetricSpec[], chunk = 1000): number[] {
  const n = x.shape[0] ?? 0;
  const totals = specs.map(() => 0);
  for (let start = 0; start < n; start += chunk) {
    const size = Math.min(chunk, n - start);
    const sums = tf.tidy(() => metricSums(specs, y.slice(start, size), model.predict(x.slice(start, size)) as tf.Tensor));
    sums.forEach((v, k) => (totals[k] += v));
  }
  return totals;
}

/** Most examples a dataset may yield when its size is not given. */
export const MAX_DATASET_EXAMPLES = 10_000_000;

/**
 * Reads a `tf.data.Dataset` of `{ xs, ys }` batches once into two tensors (the index that
 * Poisson sampling needs), checking the count against `datasetSize` when given.
 * @internal
 */
export async function materializeDataset(
  dataset: tf.data.Dataset<tf.TensorContainer>,
  argument: string,
  datasetSize?: number,
): Promise<{ x: tf.Tensor; y: tf.Tensor; firstBatch: number }> {
  if (!dataset || typeof (dataset as { iterator?: unknown }).iterator !== "function") {
    throw new DpError("invalid_parameter", `\`${argument}\` must be a tf.data.Dataset of { xs, ys } batches.`, argument);
  }
  const limit = datasetSize === undefined ? MAX_DATASET_EXAMPLES : requirePositiveInteger("datasetSize", datasetSize);
  const xs: tf.Tensor[] = [];
  const ys: tf.Tensor[] = [];
  let count = 0;
  let firstBatch = 0;
  try {
    const it = await dataset.iterator();
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      const v = r.value as { xs?: unknown; ys?: unknown } | null;
      if (!v || !(v.xs instanceof tf.Tensor) || !(v.ys instanceof tf.Tensor)) {
        throw new DpError(
          "invalid_parameter",
          `\`${argument}\` must yield { xs: tf.Tensor, ys: tf.Tensor } batches (one input, one output).`,
          argument,
        );
      }
      const b = v.xs.shape[0] ?? 0;
      if ((v.ys.shape[0] ?? 0) !== b) {
        throw new DpError("invalid_parameter", `A batch of \`${argument}\` has ${b} inputs and ${v.ys.shape[0]} targets.`, argument);
      }
      if (firstBatch === 0) firstBatch = b;
      count += b;
      xs.push(v.xs);
      ys.push(v.ys);
      if (count > limit) {
        throw new DpError(
          "invalid_parameter",
          datasetSize === undefined
            ? `\`${argument}\` yields more than ${MAX_DATASET_EXAMPLES} examples; give \`datasetSize\`.`
            : `\`${argument}\` yields more than \`datasetSize\` ${datasetSize} examples: the accountant would use the wrong size.`,
          datasetSize === undefined ? argument : "datasetSize",
        );
      }
    }
    if (datasetSize !== undefined && count !== datasetSize) {
      throw new DpError(
        "invalid_parameter",
        `\`${argument}\` yields ${count} examples, not \`datasetSize\` ${datasetSize}: the accountant would use the wrong size.`,
        "datasetSize",
      );
    }
    if (count === 0) throw new DpError("invalid_parameter", `\`${argument}\` yields no examples.`, argument);
    const x = tf.concat(xs);
    const y = tf.concat(ys);
    return { x, y, firstBatch };
  } finally {
    tf.dispose(xs);
    tf.dispose(ys);
  }
}
